package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/runtime/herder"
)

// restClientFlags are how a command reaches a worker whose REST API uses
// https, mutual TLS or basic authentication.
type restClientFlags struct {
	user, cacert, cert, key string
}

func (f *restClientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.user, "user", "", "basic authentication credentials, USER:PASSWORD")
	cmd.Flags().StringVar(&f.cacert, "cacert", "", "PEM file of the CA that signed the worker's certificate (https)")
	cmd.Flags().StringVar(&f.cert, "cert", "", "PEM client certificate, for workers with ssl.client.auth")
	cmd.Flags().StringVar(&f.key, "key", "", "PEM private key of --cert")
}

func (f *restClientFlags) client() (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.cacert != "" {
		pem, err := os.ReadFile(f.cacert)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", f.cacert)
		}
	}
	if f.cert != "" || f.key != "" {
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}, nil
}

func (f *restClientFlags) get(c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if f.user != "" {
		user, pass, _ := strings.Cut(f.user, ":")
		req.SetBasicAuth(user, pass)
	}
	return c.Do(req)
}

func lagCmd() *cobra.Command {
	var base string
	var rc restClientFlags
	cmd := &cobra.Command{
		Use:   "lag CONNECTOR",
		Short: "Print the consumer lag of a sink connector, per partition",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lag, err := fetchLag(&rc, base, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tLAG")
			for _, p := range lag.Partitions {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", lag.Group, p.Topic, p.Partition, p.Lag)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&base, "url", "http://127.0.0.1:8083", "REST URL of a Ferry worker")
	rc.register(cmd)
	return cmd
}

func fetchLag(rc *restClientFlags, base, connector string) (*herder.ConnectorLag, error) {
	client, err := rc.client()
	if err != nil {
		return nil, err
	}
	resp, err := rc.get(client, strings.TrimSuffix(base, "/")+"/connectors/"+url.PathEscape(connector)+"/lag")
	if err != nil {
		return nil, fmt.Errorf("asking the worker at %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("%s (HTTP %d)", e.Message, resp.StatusCode)
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var lag herder.ConnectorLag
	if err := json.Unmarshal(body, &lag); err != nil {
		return nil, fmt.Errorf("unexpected answer from %s: %w", base, err)
	}
	return &lag, nil
}
