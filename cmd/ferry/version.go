package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/version"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Ferry's version and the Kafka Connect release it is compatible with",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "ferry %s (commit %s), compatible with Apache Kafka Connect %s\n",
				version.Ferry, version.Commit(), version.Connect)
		},
	}
}
