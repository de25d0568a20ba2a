package testenv

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// Counter sums the counter name in reg over the series whose label
// has the given value.
func Counter(tb testing.TB, reg prometheus.Gatherer, name, label, value string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	require.NoError(tb, err)
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
