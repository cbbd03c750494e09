package sandbox

import "time"

// window is a sliding-window log: the times of the events of the last Window, so it
// can tell how many events any window of that length holds. A window ending at t
// covers (t-Window, t]: an event exactly Window old has left it.
type window struct {
	RateWindow
	times []time.Time // ascending
	// peak is the largest number of events one window has held. Checking at every
	// event is enough: a window's count only grows when an event enters it.
	peak int
}

// trim forgets the events that no window ending at now or later can hold.
func (w *window) trim(now time.Time) {
	cut := now.Add(-w.Window)
	i := 0
	for i < len(w.times) && !w.times[i].After(cut) {
		i++
	}
	w.times = w.times[i:]
}

func (w *window) add(now time.Time) {
	w.trim(now)
	w.times = append(w.times, now)
	w.peak = max(w.peak, len(w.times))
}

// windows are the sliding windows of one API key, one per configured RateWindow.
type windows []*window

func newWindows(rws []RateWindow) windows {
	ws := make(windows, 0, len(rws))
	for _, rw := range rws {
		if rw.Limit > 0 {
			ws = append(ws, &window{RateWindow: rw})
		}
	}
	return ws
}

// admit records an event at now if every window has room for it. Otherwise it records
// nothing and returns how long until the fullest window has room.
func (ws windows) admit(now time.Time) (ok bool, wait time.Duration) {
	for _, w := range ws {
		w.trim(now)
		if len(w.times) >= w.Limit {
			wait = max(wait, w.times[len(w.times)-w.Limit].Add(w.Window).Sub(now))
		}
	}
	if wait > 0 {
		return false, wait
	}
	ws.add(now)
	return true, 0
}

// add records an event at now in every window.
func (ws windows) add(now time.Time) {
	for _, w := range ws {
		w.add(now)
	}
}
