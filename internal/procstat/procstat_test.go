package procstat

import (
	"os"
	"testing"
)

func TestReadsThisProcess(t *testing.T) {
	if cpu, err := CPU(os.Getpid()); err != nil || cpu < 0 {
		t.Fatalf("CPU = %v, %v", cpu, err)
	}
	rss, err := Memory(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("Memory(VmRSS) = %d, %v", rss, err)
	}
	if peak, err := Memory(os.Getpid(), "VmHWM"); err != nil || peak < rss {
		t.Fatalf("Memory(VmHWM) = %d, %v; want at least VmRSS %d", peak, err, rss)
	}
	if _, err := Memory(os.Getpid(), "NoSuchField"); err == nil {
		t.Fatal("Memory of a field /proc does not have: no error")
	}
}
