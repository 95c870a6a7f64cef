package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/runtime/herder"
)

func lagCmd() *cobra.Command {
	var base string
	cmd := &cobra.Command{
		Use:   "lag CONNECTOR",
		Short: "Print the consumer lag of a sink connector, per partition",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lag, err := fetchLag(base, args[0])
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
	return cmd
}

func fetchLag(base, connector string) (*herder.ConnectorLag, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(strings.TrimSuffix(base, "/") + "/connectors/" + url.PathEscape(connector) + "/lag")
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
