package proc

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// outputLine is one line of a process's stdout or stderr, as sent in process.output events.
type outputLine struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
	// Truncated: the line was longer than proc.output.max_line_bytes.
	Truncated bool `json:"truncated,omitempty"`
}

// outputBatch is the data of one process.output event.
type outputBatch struct {
	Lines []outputLine `json:"lines"`
	// Dropped counts lines dropped by the rate limit since the previous batch.
	Dropped int `json:"dropped_lines,omitempty"`
}

// output batches one process's lines into events: a batch goes out when it holds BatchLines
// lines or BatchBytes bytes, or FlushInterval after its first line. A token bucket of
// RateBytesPerSecond (burst BurstBytes) bounds what one process can send; lines above it are
// dropped and counted, never silently.
type output struct {
	cfg     OutputConfig
	clock   Clock
	send    func(outputBatch)
	limiter *rate.Limiter

	mu      sync.Mutex
	batch   outputBatch
	bytes   int
	first   time.Time
	last    time.Time
	readers sync.WaitGroup
}

func newOutput(cfg OutputConfig, clock Clock, send func(outputBatch)) *output {
	return &output{
		cfg: cfg, clock: clock, send: send,
		limiter: rate.NewLimiter(rate.Limit(cfg.RateBytesPerSecond), cfg.BurstBytes),
		last:    clock.Now(),
	}
}

// add takes one line; it may send a full batch.
func (o *output) add(stream, text string, truncated bool) {
	now := o.clock.Now()
	o.mu.Lock()
	o.last = now
	if !o.limiter.AllowN(now, len(text)+1) {
		o.batch.Dropped++
		o.mu.Unlock()
		return
	}
	if len(o.batch.Lines) == 0 {
		o.first = now
	}
	o.batch.Lines = append(o.batch.Lines, outputLine{Stream: stream, Text: text, Truncated: truncated})
	o.bytes += len(text)
	var full outputBatch
	if len(o.batch.Lines) >= o.cfg.BatchLines || o.bytes >= o.cfg.BatchBytes {
		full = o.takeLocked()
	}
	o.mu.Unlock()
	o.sendIf(full)
}

// flushDue sends the batch if its first line is FlushInterval old.
func (o *output) flushDue(now time.Time) {
	o.mu.Lock()
	var b outputBatch
	if (len(o.batch.Lines) > 0 && now.Sub(o.first) >= o.cfg.FlushInterval) || (len(o.batch.Lines) == 0 && o.batch.Dropped > 0) {
		b = o.takeLocked()
	}
	o.mu.Unlock()
	o.sendIf(b)
}

// flush sends whatever is waiting.
func (o *output) flush() {
	o.mu.Lock()
	b := o.takeLocked()
	o.mu.Unlock()
	o.sendIf(b)
}

func (o *output) takeLocked() outputBatch {
	b := o.batch
	o.batch = outputBatch{}
	o.bytes = 0
	return b
}

func (o *output) sendIf(b outputBatch) {
	if len(b.Lines) > 0 || b.Dropped > 0 {
		o.send(b)
	}
}

// lastActivity is when the process last printed a line (or started).
func (o *output) lastActivity() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// read consumes r line by line until EOF. Lines longer than MaxLineBytes are cut and the rest
// of them skipped.
func (o *output) read(r io.Reader, stream string) {
	o.readers.Add(1)
	go func() {
		defer o.readers.Done()
		br := bufio.NewReaderSize(r, o.cfg.MaxLineBytes)
		for {
			line, truncated, err := readLine(br)
			if line != "" || (err == nil && !truncated) {
				o.add(stream, line, truncated)
			}
			if err != nil {
				return
			}
		}
	}()
}

// readLine returns one line without its end; truncated when it did not fit the buffer.
func readLine(br *bufio.Reader) (string, bool, error) {
	chunk, err := br.ReadSlice('\n')
	line := strings.TrimRight(string(chunk), "\r\n")
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, false, err
	}
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	return line, true, err
}

// wait waits until both streams reached EOF, at most until deadline fires: a grandchild that
// escaped the group (possible only without cgroups) may hold the pipe open forever.
func (o *output) wait(deadline <-chan time.Time) {
	done := make(chan struct{})
	go func() {
		o.readers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-deadline:
	}
}
