package components

import (
	"testing"
)

// TestSeatsPerWorker: the seat arithmetic the README's sizing rests on.
func TestSeatsPerWorker(t *testing.T) {
	for _, tc := range []struct {
		memMiB, vcpus int
		guarantee     int64
		cpu           float64
		want          int
	}{
		{16384, 4, 2 << 30, 0.5, 7},   // camp: t3.xlarge, 2 GiB: 15.36 GiB / 2 = 7
		{4096, 2, 512 << 20, 0.25, 7}, // dev: t3.medium, 512 MiB: 3.84 GiB / 0.5 = 7 (CPU allows 8)
		{16384, 4, 1 << 30, 0.5, 8},   // CPU bound: 4 / 0.5
		{16384, 4, 20 << 30, 0.5, 0},  // does not fit
		{32768, 8, 2 << 30, 0.25, 15}, // t3.2xlarge
	} {
		if got := SeatsPerWorker(tc.memMiB, tc.vcpus, tc.guarantee, tc.cpu); got != tc.want {
			t.Errorf("SeatsPerWorker(%d MiB, %d vCPU, %d B, %g) = %d, want %d", tc.memMiB, tc.vcpus, tc.guarantee, tc.cpu, got, tc.want)
		}
	}
}
