package sim

import (
	"testing"

	"viewstamp/faults"
)

// The drawn requests keep the tick limit seeds have always replayed with; a
// larger --requests-max gets a limit that grows with the requests each
// client must make.
func TestDefaultTicksMaxScalesBeyondDrawnRequests(t *testing.T) {
	for _, tc := range []struct {
		requests, clients int
		want              uint64
	}{
		{faults.RequestsDrawnMin, 1, defaultTicksMax},
		{faults.RequestsDrawnMax, 1, defaultTicksMax},
		{faults.RequestsDrawnMax + 1, 8, defaultTicksMax},
		{20_000, 1, 20_000 * ticksPerClientRequest},
		{20_000, 8, 20_000 * ticksPerClientRequest / 8},
	} {
		got := DefaultTicksMax(faults.Options{RequestsMax: tc.requests, ClientCount: tc.clients})
		if got != tc.want {
			t.Errorf("%d requests, %d clients: ticks max %d, want %d", tc.requests, tc.clients, got, tc.want)
		}
	}
}
