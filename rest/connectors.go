package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/runtime/herder"
)

// InternalHerder is implemented by herders that accept Apache's
// worker-to-worker requests (distributed mode). With a herder that does
// not implement it, those endpoints answer 500 as a standalone worker does.
type InternalHerder interface {
	// PutTaskConfigs writes task configs a follower generated
	// (POST /connectors/{c}/tasks).
	PutTaskConfigs(ctx context.Context, connector string, configs []map[string]string, sig InternalSignature) error
	// FenceZombies fences out the producers of a source connector's older
	// task generations (PUT /connectors/{c}/fence).
	FenceZombies(ctx context.Context, connector string, sig InternalSignature) error
}

// InternalSignature is what an internal request carries to prove it comes
// from a worker of the cluster.
type InternalSignature struct {
	// Body is the exact request body that was signed.
	Body []byte
	// Signature is the X-Connect-Authorization header ("" if missing).
	Signature string
	// Algorithm is the X-Connect-Request-Signature-Algorithm header.
	Algorithm string
}

const standaloneInternal = "Internal request not supported in standalone mode"

func (s *Server) serverInfo(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	info, err := s.cfg.herder.ServerInfo(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, info, nil
}

// healthBody is Apache's WorkerStatus entity.
type healthBody struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// health answers GET /health. A herder that is still starting reports it
// by returning a *herder.Error with code 503 whose message details the
// startup stage; any other failure, or no answer within the health
// timeout, means unhealthy.
func (s *Server) health(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.healthTimeout)
	defer cancel()
	err := s.cfg.herder.Health(ctx)
	if err == nil {
		return http.StatusOK, healthBody{"healthy", "Worker has completed startup and is ready to handle requests."}, nil
	}
	var he *herder.Error
	if errors.As(err, &he) && he.Code == http.StatusServiceUnavailable {
		return http.StatusServiceUnavailable, healthBody{"starting", joinDetail("Worker is still starting up.", he.Message)}, nil
	}
	detail := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		detail = ""
	}
	return http.StatusInternalServerError, healthBody{"unhealthy", joinDetail(
		"Worker was unable to handle this request and may be unable to handle other requests.", detail)}, nil
}

func joinDetail(msg, detail string) string {
	if detail == "" {
		return msg
	}
	return msg + " " + detail
}

func (s *Server) listConnectors(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	names, err := s.cfg.herder.Connectors(ctx)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	if !q.Has("expand") {
		return http.StatusOK, nonNil(names), nil
	}
	out := make(map[string]map[string]any, len(names))
next:
	for _, name := range names {
		exp := map[string]any{}
		for _, e := range q["expand"] {
			var v any
			switch e {
			case "status":
				v, err = s.cfg.herder.ConnectorStatus(ctx, name)
				if st, ok := v.(*herder.ConnectorStateInfo); ok && err == nil {
					v = normStatus(st)
				}
			case "info":
				v, err = s.cfg.herder.ConnectorInfo(ctx, name)
				if in, ok := v.(*herder.ConnectorInfo); ok && err == nil {
					v = normInfo(in)
				}
			default:
				continue // unknown expansions are ignored
			}
			if herder.StatusCode(err) == http.StatusNotFound {
				continue next // deleted while we looked: leave it out
			}
			if err != nil {
				return 0, nil, err
			}
			exp[e] = v
		}
		out[name] = exp
	}
	return http.StatusOK, out, nil
}

// createRequest is Apache's CreateConnectorRequest.
type createRequest struct {
	Name         *string        `json:"name"`
	Config       map[string]any `json:"config"`
	InitialState *string        `json:"initial_state"`
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	config, err := decodeConfig(req.Config)
	if err != nil {
		return 0, nil, err
	}
	var initial herder.TargetState
	if req.InitialState != nil {
		switch strings.ToUpper(*req.InitialState) {
		case "RUNNING":
			initial = herder.TargetStarted
		case "PAUSED":
			initial = herder.TargetPaused
		case "STOPPED":
			initial = herder.TargetStopped
		default:
			return 0, nil, herder.BadRequest("Invalid initial_state '%s': must be one of RUNNING, PAUSED, STOPPED", *req.InitialState)
		}
	}
	if err := checkAndPutName(name, config); err != nil {
		return 0, nil, err
	}
	if err := requireConnectorClass(config); err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	_, info, err := s.cfg.herder.PutConnectorConfig(ctx, name, config, initial, false)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", connectorURL(r, name))
	return http.StatusCreated, normInfo(info), nil
}

// connectorURL is the absolute URL of a connector, resolved against the
// request the way Jersey resolves a relative Location.
func connectorURL(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/connectors/" + url.PathEscape(name)
}

func (s *Server) getConnector(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	info, err := s.cfg.herder.ConnectorInfo(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, normInfo(info), nil
}

func (s *Server) deleteConnector(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusNoContent, nil, s.cfg.herder.DeleteConnector(ctx, r.PathValue("c"))
}

func (s *Server) getConnectorConfig(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	config, err := s.cfg.herder.ConnectorConfig(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nonNilMap(config), nil
}

func (s *Server) putConnectorConfig(w http.ResponseWriter, r *http.Request) (int, any, error) {
	name := r.PathValue("c")
	var raw map[string]any
	if err := decodeBody(r, &raw); err != nil {
		return 0, nil, err
	}
	config, err := decodeConfig(raw)
	if err != nil {
		return 0, nil, err
	}
	if err := checkAndPutName(name, config); err != nil {
		return 0, nil, err
	}
	if err := requireConnectorClass(config); err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	created, info, err := s.cfg.herder.PutConnectorConfig(ctx, name, config, "", true)
	if err != nil {
		return 0, nil, err
	}
	if created {
		w.Header().Set("Location", connectorURL(r, name))
		return http.StatusCreated, normInfo(info), nil
	}
	return http.StatusOK, normInfo(info), nil
}

func (s *Server) patchConnectorConfig(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	var raw map[string]any
	if err := decodeBody(r, &raw); err != nil {
		return 0, nil, err
	}
	patch, err := configValues(raw)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	info, err := s.cfg.herder.PatchConnectorConfig(ctx, r.PathValue("c"), patch)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, normInfo(info), nil
}

func (s *Server) connectorStatus(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	st, err := s.cfg.herder.ConnectorStatus(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, normStatus(st), nil
}

func (s *Server) taskConfigs(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	tasks, err := s.cfg.herder.Tasks(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	tasks = nonNil(tasks)
	for i := range tasks {
		tasks[i].Config = nonNilMap(tasks[i].Config)
	}
	return http.StatusOK, tasks, nil
}

// tasksConfig answers the deprecated GET /connectors/{c}/tasks-config
// (kept for 3.9 compatibility): task configs keyed by "<c>-<n>".
func (s *Server) tasksConfig(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	name := r.PathValue("c")
	s.log.Warn("The GET /connectors/{connector}/tasks-config endpoint is deprecated and will be removed in the next major release", "connector", name)
	tasks, err := s.cfg.herder.Tasks(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	out := make(map[string]map[string]string, len(tasks))
	for _, t := range tasks {
		out[t.ID.String()] = nonNilMap(t.Config)
	}
	return http.StatusOK, out, nil
}

// taskID reads {c} and {t}; a non-integer task is a 404, as JAX-RS answers
// when an Integer path parameter does not parse.
func taskID(r *http.Request) (herder.TaskID, error) {
	n, err := strconv.ParseInt(r.PathValue("t"), 10, 32)
	if err != nil {
		return herder.TaskID{}, jaxrsError(http.StatusNotFound)
	}
	return herder.TaskID{Connector: r.PathValue("c"), Task: int(n)}, nil
}

func (s *Server) taskStatus(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := taskID(r)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	st, err := s.cfg.herder.TaskStatus(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, st, nil
}

func (s *Server) restartTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := taskID(r)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusNoContent, nil, s.cfg.herder.RestartTask(ctx, id)
}

func (s *Server) restartConnector(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	name := r.PathValue("c")
	includeTasks := queryBool(r, "includeTasks", false)
	onlyFailed := queryBool(r, "onlyFailed", false)
	ctx, cancel := s.ctx(r)
	defer cancel()
	if !includeTasks && !onlyFailed {
		return http.StatusNoContent, nil, s.cfg.herder.RestartConnector(ctx, name)
	}
	st, err := s.cfg.herder.RestartConnectorAndTasks(ctx, name, includeTasks, onlyFailed)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, normStatus(st), nil
}

func (s *Server) pauseConnector(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusAccepted, nil, s.cfg.herder.PauseConnector(ctx, r.PathValue("c"))
}

func (s *Server) resumeConnector(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusAccepted, nil, s.cfg.herder.ResumeConnector(ctx, r.PathValue("c"))
}

func (s *Server) stopConnector(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusNoContent, nil, s.cfg.herder.StopConnector(ctx, r.PathValue("c"))
}

// topicsBody is Apache's ActiveTopicsInfo as the REST API shows it.
type topicsBody struct {
	Topics []string `json:"topics"`
}

func (s *Server) connectorTopics(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if !s.cfg.topicTracking {
		return 0, nil, herder.Forbidden("Topic tracking is disabled.")
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	name := r.PathValue("c")
	topics, err := s.cfg.herder.ConnectorTopics(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]topicsBody{name: {Topics: nonNil(topics)}}, nil
}

func (s *Server) resetConnectorTopics(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if !s.cfg.topicTracking {
		return 0, nil, herder.Forbidden("Topic tracking is disabled.")
	}
	if !s.cfg.topicReset {
		return 0, nil, herder.Forbidden("Topic tracking reset is disabled.")
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusAccepted, nil, s.cfg.herder.ResetConnectorTopics(ctx, r.PathValue("c"))
}

func (s *Server) getOffsets(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	offs, err := s.cfg.herder.ConnectorOffsets(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	if offs == nil {
		offs = &herder.ConnectorOffsets{}
	}
	offs.Offsets = nonNil(offs.Offsets)
	return http.StatusOK, offs, nil
}

// alterOffsets answers PATCH /connectors/{c}/offsets. JSON numbers reach
// the herder as int64 when integral, else float64.
func (s *Server) alterOffsets(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	var body struct {
		Offsets []struct {
			Partition map[string]any `json:"partition"`
			Offset    map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if len(body.Offsets) == 0 {
		return 0, nil, herder.BadRequest("Partitions / offsets need to be provided for an alter offsets request")
	}
	offs := &herder.ConnectorOffsets{Offsets: make([]herder.ConnectorOffset, len(body.Offsets))}
	for i, o := range body.Offsets {
		offs.Offsets[i] = herder.ConnectorOffset{Partition: numbers(o.Partition), Offset: numbers(o.Offset)}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	msg, err := s.cfg.herder.AlterConnectorOffsets(ctx, r.PathValue("c"), offs)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, messageBody{msg}, nil
}

func (s *Server) resetOffsets(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	msg, err := s.cfg.herder.ResetConnectorOffsets(ctx, r.PathValue("c"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, messageBody{msg}, nil
}

func (s *Server) putTaskConfigs(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ih, ok := s.cfg.herder.(InternalHerder)
	if !ok {
		return 0, nil, herder.Internal(nil, standaloneInternal)
	}
	sig, err := readSignature(r)
	if err != nil {
		return 0, nil, err
	}
	var raw []map[string]any
	if err := decodeBody(r, &raw); err != nil {
		return 0, nil, err
	}
	configs := make([]map[string]string, len(raw))
	for i, m := range raw {
		if configs[i], err = decodeConfig(m); err != nil {
			return 0, nil, err
		}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusNoContent, nil, ih.PutTaskConfigs(ctx, r.PathValue("c"), configs, sig)
}

func (s *Server) fenceZombies(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	ih, ok := s.cfg.herder.(InternalHerder)
	if !ok {
		return 0, nil, herder.Internal(nil, standaloneInternal)
	}
	sig, err := readSignature(r)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	return http.StatusNoContent, nil, ih.FenceZombies(ctx, r.PathValue("c"), sig)
}

// readSignature buffers the body (it is signed byte for byte) and puts it
// back for decoding.
func readSignature(r *http.Request) (InternalSignature, error) {
	body, err := readAllAndRestore(r)
	if err != nil {
		return InternalSignature{}, herder.BadRequest("Failed to read request body: %v", err)
	}
	return InternalSignature{
		Body:      body,
		Signature: r.Header.Get("X-Connect-Authorization"),
		Algorithm: r.Header.Get("X-Connect-Request-Signature-Algorithm"),
	}, nil
}
