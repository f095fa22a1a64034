package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// MaxImportBytes bounds one import (an upload, a file or a fetched source): the full public
// catalog as OMM JSON is about 15 MB.
const MaxImportBytes = 64 << 20

// maxReportedErrors bounds the record errors a report lists; the rest are only counted.
const maxReportedErrors = 1000

// applyChunk is how many sets one transaction stores: large enough to be quick, small enough
// that a SQLite writer does not hold the lock for long.
const applyChunk = 250

// ImportRequest is one import into a catalog.
type ImportRequest struct {
	// TeamID is the owning team; "" imports into the global catalog.
	TeamID string
	// Source names where the data came from ("celestrak-active", "upload", a file name); it is
	// kept with each element set.
	Source string
	// Format of Data; FormatAuto detects it.
	Format Format
	Data   []byte
}

// Report says what an import did. Every record is either accepted, refused or rejected.
type Report struct {
	Format Format `json:"format"`
	// Records is the number of records read (element sets or transmitters).
	Records int `json:"records"`
	// SpacecraftCreated counts NORAD ids new to the catalog.
	SpacecraftCreated int `json:"spacecraft_created"`
	// Accepted counts element sets that became current (or transmitters stored).
	Accepted int `json:"accepted"`
	// Refused counts element sets whose epoch was not newer than the current set's: not stored.
	Refused int `json:"refused"`
	// Rejected counts bad records; Errors lists them (the first 1000), in input order.
	Rejected int           `json:"rejected"`
	Errors   []RecordError `json:"errors"`
}

// ErrNotText is returned for an import that is not UTF-8 text.
var ErrNotText = errors.New("the input is not UTF-8 text")

// ErrBadSource is returned for a source name that is not short UTF-8 text.
var ErrBadSource = errors.New("invalid source name")

// ErrTooLarge is returned for an import over MaxImportBytes.
var ErrTooLarge = fmt.Errorf("the input exceeds %d bytes", MaxImportBytes)

// Import reads req.Data and stores what is valid. Bad records are reported one by one in the
// Report and never stop the rest; the error is for an input that cannot be imported at all
// (not text, too large) or a database failure.
func (c *Catalog) Import(ctx context.Context, req ImportRequest) (*Report, error) {
	if len(req.Data) > MaxImportBytes {
		return nil, ErrTooLarge
	}
	if !looksLikeText(req.Data) {
		return nil, ErrNotText
	}
	if err := cleanText(req.Source, maxNameLen); err != nil {
		return nil, fmt.Errorf("%w: source: %w", ErrBadSource, err)
	}
	if req.Format == FormatAuto {
		req.Format = DetectFormat(req.Data)
	}
	var (
		rep *Report
		err error
	)
	if req.Format == FormatTransmitters {
		rep, err = c.importTransmitters(ctx, req)
	} else {
		rep, err = c.importElementSets(ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("import %s into %s: %w", req.Format, catalogName(req.TeamID), err)
	}
	c.Log.Info("catalog import", zap.String("team_id", req.TeamID), zap.String("source", req.Source),
		zap.String("format", string(req.Format)), zap.Int("records", rep.Records),
		zap.Int("accepted", rep.Accepted), zap.Int("refused", rep.Refused), zap.Int("rejected", rep.Rejected))
	return rep, nil
}

func catalogName(teamID string) string {
	if teamID == "" {
		return "the global catalog"
	}
	return "the catalog of team " + teamID
}

func (c *Catalog) importElementSets(ctx context.Context, req ImportRequest) (*Report, error) {
	sets, errs := ParseElementSets(req.Data, req.Format)
	rep := newReport(req.Format, len(sets), errs)
	for start := 0; start < len(sets); start += applyChunk {
		chunk := sets[start:min(start+applyChunk, len(sets))]
		in := make([]store.NewElementSet, len(chunk))
		for i, ps := range chunk {
			es := ps.Elements
			in[i] = store.NewElementSet{NORADID: es.NORADID, Name: es.Name, IntlDesignator: es.IntlDesignator,
				Format: string(ps.Format), Epoch: es.Epoch, MeanMotion: es.MeanMotion, Raw: ps.Raw}
		}
		outcomes, err := c.Store.ApplyElementSets(ctx, req.TeamID, req.Source, in)
		if err != nil {
			return nil, err
		}
		for _, o := range outcomes {
			rep.count(o)
		}
	}
	c.Metrics.imported("element_set", "accepted", rep.Accepted)
	c.Metrics.imported("element_set", "refused", rep.Refused)
	c.Metrics.imported("element_set", "rejected", rep.Rejected)
	return rep, nil
}

func (r *Report) count(o store.SetOutcome) {
	if o.CreatedSpacecraft {
		r.SpacecraftCreated++
	}
	if o.Accepted {
		r.Accepted++
	} else {
		r.Refused++
	}
}

// newReport starts a report of good records plus the record errors, sorted by line.
func newReport(f Format, good int, errs []RecordError) *Report {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	rep := &Report{Format: f, Records: good + len(errs), Rejected: len(errs), Errors: errs}
	if len(rep.Errors) > maxReportedErrors {
		rep.Errors = rep.Errors[:maxReportedErrors]
	}
	if rep.Errors == nil {
		rep.Errors = []RecordError{}
	}
	return rep
}

func (c *Catalog) importTransmitters(ctx context.Context, req ImportRequest) (*Report, error) {
	txs, errs := ParseTransmitters(req.Data)
	in := make([]store.TransmitterFor, len(txs))
	for i, p := range txs {
		in[i] = store.TransmitterFor{NORADID: p.Transmitter.NORADID, Transmitter: p.Transmitter.Row()}
	}
	stored, err := c.Store.UpsertTransmitters(ctx, req.TeamID, req.Source, in)
	if err != nil {
		return nil, err
	}
	good := 0
	for i, ok := range stored {
		if ok {
			good++
			continue
		}
		errs = append(errs, RecordError{Record: txs[i].Record, Line: txs[i].Line, Field: "norad_cat_id",
			Message: fmt.Sprintf("norad_cat_id: no spacecraft %d in %s", txs[i].Transmitter.NORADID, catalogName(req.TeamID))})
	}
	rep := newReport(FormatTransmitters, good, errs)
	rep.Accepted = good
	c.Metrics.imported("transmitter", "accepted", rep.Accepted)
	c.Metrics.imported("transmitter", "rejected", rep.Rejected)
	return rep, nil
}

// Row converts a parsed transmitter to the store's row (ids and times are the store's to fill).
func (t *Transmitter) Row() store.Transmitter {
	alive := true
	if t.Alive != nil {
		alive = *t.Alive
	}
	status := t.Status
	if status == "" {
		status = "active"
	}
	return store.Transmitter{ExternalID: t.UUID, Description: t.Description, Type: t.Type, Alive: alive,
		Status: status, UplinkLow: t.UplinkLow, UplinkHigh: t.UplinkHigh, DownlinkLow: t.DownlinkLow,
		DownlinkHigh: t.DownlinkHigh, Mode: t.Mode, Baud: t.Baud, Invert: t.Invert}
}
