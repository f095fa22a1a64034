package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/talos-gs/talos/backend/api"
)

// ManifestName is the optional manifest a decoder writes into its output directory to name the
// kind (and media type) of its files, and to leave files out (docs/processes.md "Output files").
// It is never uploaded itself.
//
//	{"files": [{"name": "pass.raw", "kind": "iq", "content_type": "application/octet-stream"},
//	           {"name": "scratch.bin", "skip": true}]}
const ManifestName = "talos-manifest.json"

// maxManifestBytes bounds the manifest read.
const maxManifestBytes = 1 << 20

// Manifest is the decoder's description of its output files.
type Manifest struct {
	Files []ManifestFile `json:"files"`
}

// ManifestFile describes one file of the output directory.
type ManifestFile struct {
	Name        string `json:"name"`
	Kind        string `json:"kind,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Skip        bool   `json:"skip,omitempty"`
}

// readManifest reads dir's manifest, if there is one, and checks it.
func readManifest(dir string) (map[string]ManifestFile, error) {
	f, err := openRegular(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var m Manifest
	dec := json.NewDecoder(io.LimitReader(f, maxManifestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	out := map[string]ManifestFile{}
	for i, mf := range m.Files {
		if err := api.ValidateArtifactName(mf.Name); err != nil {
			return nil, fmt.Errorf("%s: files[%d].name: %w", ManifestName, i, err)
		}
		if mf.Kind != "" && !api.ValidArtifactKind(mf.Kind) {
			return nil, fmt.Errorf("%s: files[%d].kind: %q is not one of %s", ManifestName, i, mf.Kind, strings.Join(api.ArtifactKinds, ", "))
		}
		out[mf.Name] = mf
	}
	return out, nil
}

// openRegular opens a file the decoder wrote without following a symbolic link, and only if it
// is a regular file with one link: the runner reads with more rights than the decoder, so a
// link planted in the output directory must not make it upload a file the team cannot read.
func openRegular(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, os.ErrNotExist
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		_ = f.Close()
		return nil, fmt.Errorf("%s is not a regular file with a single link; not uploaded", path)
	}
	return f, nil
}

// hashFile returns a file's size and SHA-256.
func hashFile(path string) (int64, string, error) {
	f, err := openRegular(path)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// collect lists the artifacts of an output directory: its regular files (not hidden, not in
// subdirectories, not the manifest), each hashed, with its kind from the manifest or its name.
// A file that cannot be read is skipped and reported in problems.
func collect(d Dir) ([]Entry, []string, error) {
	names, err := os.ReadDir(d.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("output dir %s: %w", d.Path, err)
	}
	var problems []string
	manifest, err := readManifest(d.Path)
	if err != nil {
		problems = append(problems, err.Error()+" (kinds are taken from the file names)")
	}
	var out []Entry
	for _, de := range names {
		name := de.Name()
		if !de.Type().IsRegular() || name == ManifestName || strings.HasPrefix(name, ".") {
			continue
		}
		if err := api.ValidateArtifactName(name); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		mf := manifest[name]
		if mf.Skip {
			continue
		}
		e := Entry{Source: d.Source, SourceID: d.SourceID, Team: d.Team, Path: filepath.Join(d.Path, name), Name: name,
			Kind: mf.Kind, ContentType: mf.ContentType}
		if e.Kind == "" {
			e.Kind = api.ArtifactKindFromName(name)
		}
		if e.ContentType == "" {
			e.ContentType = mime.TypeByExtension(filepath.Ext(name))
		}
		if e.Size, e.SHA256, err = hashFile(e.Path); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		e.State = StateQueued
		if !(&api.OutputSettings{Kinds: d.Kinds}).Uploads(e.Kind) {
			e.State = StateKept
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, problems, nil
}
