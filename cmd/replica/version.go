package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"viewstamp/replica/vsr"
)

// version is the release of the binary; the build's VCS revision is
// printed beside it: revision if the build set it (make build does, with
// -ldflags -X), else the one Go recorded, if any.
const version = "0.1.0"

var revision string

func newVersionCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			rev, modified := "unknown", false
			if revision != "" {
				rev = revision
			} else if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						rev = s.Value
					case "vcs.modified":
						modified = s.Value == "true"
					}
				}
			}
			if modified {
				rev += "-dirty"
			}
			fmt.Fprintf(w, "viewstamp replica %s (%s), release %s\n", version, rev, vsr.ReleaseString(productionConfig(1).Release))
			if verbose {
				cfg := productionConfig(1)
				fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
				fmt.Fprintf(w, "release=%s release_client_min=%s request_size_limit=%d (--development %d)\n",
					vsr.ReleaseString(cfg.Release), vsr.ReleaseString(cfg.ReleaseClientMin), cfg.RequestSizeLimit, vsr.RequestSizeLimitDevelopment)
				fmt.Fprintf(w, "sector_size=%d journal_slot_count=%d message_size_max=%d clients_max=%d pipeline_max=%d\n",
					cfg.SectorSize, cfg.JournalSlotCount, cfg.MessageSizeMax, cfg.ClientsMax, cfg.PipelineMax)
				fmt.Fprintf(w, "block_size=%d grid_block_count=%d compaction_ops=%d tick=%s\n",
					cfg.BlockSize, cfg.GridBlockCount, cfg.CompactionOps, tick)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&verbose, "verbose", false, "also print the build and the compiled-in configuration")
	return cmd
}
