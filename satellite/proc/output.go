package proc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// outputLine is one line of a process's stdout or stderr, as sent in process.output events.
type outputLine struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
	// Truncated: the line was cut, to proc.output.max_line_bytes or to fit one event.
	Truncated bool `json:"truncated,omitempty"`
	// DroppedBytes counts the bytes of the line cut off.
	DroppedBytes int `json:"dropped_bytes,omitempty"`
}

// outputBatch is the data of one process.output event.
type outputBatch struct {
	Lines []outputLine `json:"lines"`
	// Dropped counts lines dropped by the rate limit since the previous batch.
	Dropped int `json:"dropped_lines,omitempty"`
}

// MaxOutputBatchBytes is the most JSON bytes the lines of one process.output event take: the
// backend refuses an event whose data is over api.MaxEventDataBytes, and 4 KiB are left for the
// rest of the data (process name, team id, counts).
const MaxOutputBatchBytes = api.MaxEventDataBytes - 4<<10

// lineOverhead bounds the JSON of a line besides its text: the longest
// {"stream":"stdout","text":"","truncated":true,"dropped_bytes":<20 digits>} and a comma.
const lineOverhead = 96

// output batches one process's lines into events: a batch goes out when it holds BatchLines
// lines or its lines take BatchBytes bytes of JSON, or FlushInterval after its first line. A
// line that alone would not fit a batch is cut (marked truncated, with the bytes dropped). A
// token bucket of RateBytesPerSecond (burst BurstBytes) bounds what one process can send;
// lines above it are dropped and counted, never silently.
type output struct {
	cfg     OutputConfig
	clock   clock.Clock
	send    func(outputBatch)
	limiter *rate.Limiter

	mu      sync.Mutex
	batch   outputBatch
	bytes   int // JSON size of batch.Lines, commas included
	first   time.Time
	last    time.Time
	readers sync.WaitGroup
}

func newOutput(cfg OutputConfig, clk clock.Clock, send func(outputBatch)) *output {
	return &output{
		cfg: cfg, clock: clk, send: send,
		limiter: rate.NewLimiter(rate.Limit(cfg.RateBytesPerSecond), cfg.BurstBytes),
		last:    clk.Now(),
	}
}

// add takes one line (cut already by dropped bytes); it may send one or two batches: the
// waiting one when the line would push it over BatchBytes, and the new one when full.
func (o *output) add(stream, text string, dropped int) {
	now := o.clock.Now()
	o.mu.Lock()
	o.last = now
	if !o.limiter.AllowN(now, len(text)+1) {
		o.batch.Dropped++
		o.mu.Unlock()
		return
	}
	line := fitLine(outputLine{Stream: stream, Text: text, Truncated: dropped > 0, DroppedBytes: dropped}, o.cfg.BatchBytes)
	size := lineSize(line)
	var before, full outputBatch
	if len(o.batch.Lines) > 0 && o.bytes+size > o.cfg.BatchBytes {
		before = o.takeLocked()
	}
	if len(o.batch.Lines) == 0 {
		o.first = now
	}
	o.batch.Lines = append(o.batch.Lines, line)
	o.bytes += size
	if len(o.batch.Lines) >= o.cfg.BatchLines || o.bytes >= o.cfg.BatchBytes {
		full = o.takeLocked()
	}
	o.mu.Unlock()
	o.sendIf(before)
	o.sendIf(full)
}

// fitLine cuts a line whose JSON would take more than limit bytes, at a character boundary.
func fitLine(l outputLine, limit int) outputLine {
	if lineSize(l) <= limit {
		return l
	}
	budget, n := limit-lineOverhead, 0
	for i, r := range l.Text {
		w := jsonRuneLen(l.Text, i, r)
		if n+w > budget {
			l.DroppedBytes += len(l.Text) - i
			l.Text, l.Truncated = l.Text[:i], true
			return l
		}
		n += w
	}
	return l
}

// lineSize bounds the JSON size of a line in a batch, comma included.
func lineSize(l outputLine) int {
	return lineOverhead - len("stdout") + len(l.Stream) + jsonStringLen(l.Text)
}

// jsonStringLen is how many bytes encoding/json writes for s between its quotes (with its
// default HTML escaping).
func jsonStringLen(s string) int {
	n := 0
	for i, r := range s {
		n += jsonRuneLen(s, i, r)
	}
	return n
}

// jsonRuneLen is the encoded size of the rune r found at s[i].
func jsonRuneLen(s string, i int, r rune) int {
	switch {
	case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
		return 6 // an invalid byte becomes \ufffd
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t' || r == '\b' || r == '\f':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
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

// read consumes r line by line until EOF. Lines longer than MaxLineBytes are cut; the bytes
// of the rest are skipped and counted.
func (o *output) read(r io.Reader, stream string) {
	o.readers.Add(1)
	go func() {
		defer o.readers.Done()
		br := bufio.NewReaderSize(r, o.cfg.MaxLineBytes)
		for {
			line, dropped, err := readLine(br)
			if line != "" || dropped > 0 || err == nil {
				o.add(stream, line, dropped)
			}
			if err != nil {
				return
			}
		}
	}()
}

// readLine returns one line without its end, and how many bytes of it were skipped because it
// did not fit the buffer.
func readLine(br *bufio.Reader) (string, int, error) {
	chunk, err := br.ReadSlice('\n')
	line := strings.TrimRight(string(chunk), "\r\n")
	dropped := 0
	for errors.Is(err, bufio.ErrBufferFull) {
		var rest []byte
		rest, err = br.ReadSlice('\n')
		dropped += len(rest)
		if err == nil {
			dropped -= len(rest) - len(bytes.TrimRight(rest, "\r\n"))
		}
	}
	return line, dropped, err
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
