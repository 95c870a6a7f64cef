// Command ferry is a Kafka Connect worker: it runs source and sink
// connectors configured over Apache Kafka Connect's REST API.
//
// main only parses the command line and wires the pieces together; the
// work happens in the runtime, rest and connector packages.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Ferry moves data between Kafka and other systems, configured like Kafka Connect",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(standaloneCmd(), distributedCmd(), devCmd(), versionCmd(), lagCmd(), docsCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ferry:", err)
		os.Exit(1)
	}
}
