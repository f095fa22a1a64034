package upload_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
)

// tusServer is a fake backend speaking the tus subset the backend serves (creation, HEAD,
// PATCH, DELETE), keeping partial bodies as tusd's filestore does, and checking the SHA-256
// at the end. Hooks let a test cut a chunk midway or stop after some chunks.
type tusServer struct {
	t   testing.TB
	srv *httptest.Server
	sat client.Satellite

	mu       sync.Mutex
	uploads  map[string]*tusUpload
	next     int
	received int64 // body bytes taken over all PATCHes
	patches  int
	// cutAfter, when > 0, makes the next PATCH read that many bytes, keep them, and drop the
	// connection without an answer (then resets to 0).
	cutAfter int64
	// onPatch is called after each PATCH was answered.
	onPatch func(patches int)
}

type tusUpload struct {
	size     int64
	meta     map[string]string
	data     []byte
	artifact string
}

func newTusServer(t testing.TB) *tusServer {
	s := &tusServer{t: t, uploads: map[string]*tusUpload{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	c, err := client.New(client.Options{BaseURL: s.srv.URL, APIKey: "tsk_test_key"})
	if err != nil {
		t.Fatal(err)
	}
	s.sat = client.Satellite{Client: c, ID: "sat-1"}
	return s
}

const uploadsPath = "/api/satellites/sat-1/uploads"

func (s *tusServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == uploadsPath && r.Method == http.MethodPost {
		s.create(w, r)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, uploadsPath+"/")
	up := s.uploads[id]
	if !ok || up == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodHead:
		w.Header().Set("Upload-Offset", strconv.Itoa(len(up.data)))
		if up.artifact != "" {
			w.Header().Set(api.HeaderArtifactID, up.artifact)
		}
	case http.MethodPatch:
		s.patch(w, r, id, up)
	case http.MethodDelete:
		delete(s.uploads, id)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *tusServer) create(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	meta := map[string]string{}
	for _, kv := range strings.Split(r.Header.Get("Upload-Metadata"), ",") {
		k, v, _ := strings.Cut(kv, " ")
		b, _ := base64.StdEncoding.DecodeString(v)
		meta[k] = string(b)
	}
	s.next++
	id := fmt.Sprintf("%032x", s.next)
	s.uploads[id] = &tusUpload{size: size, meta: meta}
	w.Header().Set("Location", uploadsPath+"/"+id)
	w.WriteHeader(http.StatusCreated)
}

func (s *tusServer) patch(w http.ResponseWriter, r *http.Request, id string, up *tusUpload) {
	off, _ := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if off != int64(len(up.data)) {
		w.WriteHeader(http.StatusConflict)
		return
	}
	s.patches++
	if s.cutAfter > 0 {
		n := s.cutAfter
		s.cutAfter = 0
		b, _ := io.ReadAll(io.LimitReader(r.Body, n))
		up.data = append(up.data, b...)
		s.received += int64(len(b))
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	b, _ := io.ReadAll(r.Body)
	up.data = append(up.data, b...)
	s.received += int64(len(b))
	if int64(len(up.data)) == up.size {
		sum := sha256.Sum256(up.data)
		if hex.EncodeToString(sum[:]) != up.meta[api.UploadMetaSHA256] {
			delete(s.uploads, id)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":"mismatch"}}`, api.ErrUploadHashMismatch)
			return
		}
		up.artifact = fmt.Sprintf("artifact-%s", id)
		w.Header().Set(api.HeaderArtifactID, up.artifact)
	}
	w.Header().Set("Upload-Offset", strconv.Itoa(len(up.data)))
	w.WriteHeader(http.StatusNoContent)
	if s.onPatch != nil {
		s.onPatch(s.patches)
	}
}

// stats returns the bytes received and the artifacts recorded (by file name, their bytes).
func (s *tusServer) stats() (int64, map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for _, up := range s.uploads {
		if up.artifact != "" {
			out[up.meta[api.UploadMetaName]] = append([]byte(nil), up.data...)
		}
	}
	return s.received, out
}
