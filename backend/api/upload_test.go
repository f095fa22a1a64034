package api

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUploadMetaNamesTheField(t *testing.T) {
	t.Parallel()
	good := map[string]string{UploadMetaSource: SourceObservation, UploadMetaSourceID: "obs-1", UploadMetaName: "pass.wav",
		UploadMetaKind: ArtifactAudio, UploadMetaSHA256: strings.Repeat("a", 64)}
	if _, err := ParseUploadMeta(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(m map[string]string){
		UploadMetaSource:      func(m map[string]string) { m[UploadMetaSource] = "disk" },
		UploadMetaSourceID:    func(m map[string]string) { m[UploadMetaSourceID] = "a b" },
		UploadMetaKind:        func(m map[string]string) { m[UploadMetaKind] = "video" },
		UploadMetaSHA256:      func(m map[string]string) { m[UploadMetaSHA256] = "zz" },
		UploadMetaName:        func(m map[string]string) { m[UploadMetaName] = "../etc/passwd" },
		UploadMetaContentType: func(m map[string]string) { m[UploadMetaContentType] = "a\nb" },
	}
	for field, change := range cases {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		change(m)
		_, err := ParseUploadMeta(m)
		var fe *UploadFieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestArtifactKindFromName(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]string{
		"Waterfall.PNG": ArtifactWaterfall, "photo.png": ArtifactOther, "pass.wav": ArtifactAudio,
		"rec.cf32": ArtifactIQ, "frames.jsonl": ArtifactFrames, "data.jsonl": ArtifactOther,
		"decoder.log": ArtifactLog, "x": ArtifactOther,
	} {
		if got := ArtifactKindFromName(name); got != kind {
			t.Errorf("%s: %s, want %s", name, got, kind)
		}
	}
}

func FuzzParseUploadMeta(f *testing.F) {
	f.Add("observation", "obs-1", "pass.wav", "audio", strings.Repeat("a", 64), "audio/wav")
	f.Fuzz(func(t *testing.T, source, id, name, kind, sum, ct string) {
		m, err := ParseUploadMeta(map[string]string{UploadMetaSource: source, UploadMetaSourceID: id, UploadMetaName: name,
			UploadMetaKind: kind, UploadMetaSHA256: sum, UploadMetaContentType: ct})
		if err != nil {
			return
		}
		if strings.ContainsAny(m.Name, "/\\") || !ValidArtifactKind(m.Kind) || len(m.SHA256) != 64 {
			t.Fatalf("accepted %+v", m)
		}
	})
}
