package api

import (
	"fmt"
	"regexp"
	"sort"
)

// Limits of a station's tags (RegisterRequest.Tags, Heartbeat.Tags, the station.tags setting).
const (
	// MaxTags is the most tags one station carries.
	MaxTags = 32
	// MaxTagKeyLen is the longest tag key, in characters.
	MaxTagKeyLen = 32
	// MaxTagValueLen is the longest tag value, in characters.
	MaxTagValueLen = 64
)

// A tag key is lower-case: a letter, then letters, digits, '.', '_' or '-'. A value is a letter
// or digit, then letters (either case), digits, '.', '_', '-', '/' or '+'. Neither holds spaces,
// '=', '!', ':', quotes or parentheses, so a tag query never needs quoting.
var (
	tagKeyRe   = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)
	tagValueRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/+-]*$`)
	// capabilityRe is a capability name (RegisterRequest.Capabilities).
	capabilityRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// Limits of a station's capabilities (RegisterRequest.Capabilities).
const (
	// MaxCapabilities is the most capabilities one station reports.
	MaxCapabilities = 32
	// MaxCapabilityLen is the longest capability name, in characters.
	MaxCapabilityLen = 32
)

// ValidCapability reports whether c may be a capability name: 1 to MaxCapabilityLen of a-z,
// 0-9, '.', '_', '-', starting with a letter or digit.
func ValidCapability(c string) bool { return len(c) <= MaxCapabilityLen && capabilityRe.MatchString(c) }

// TagError names the tag a station's tags were refused for.
type TagError struct {
	// Field is "tags" or "tags.<key>".
	Field   string
	Message string
}

func (e *TagError) Error() string { return e.Field + ": " + e.Message }

// ValidTagKey reports whether k may be a tag key (also the key a tag query names).
func ValidTagKey(k string) bool { return len(k) <= MaxTagKeyLen && tagKeyRe.MatchString(k) }

// ValidTagValue reports whether v may be a tag value.
func ValidTagValue(v string) bool { return len(v) <= MaxTagValueLen && tagValueRe.MatchString(v) }

// ValidateTags checks a station's tags: at most MaxTags, each key and value of the allowed
// characters and lengths. Keys are checked in sorted order, so the first error is stable.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return &TagError{"tags", fmt.Sprintf("at most %d tags, got %d", MaxTags, len(tags))}
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ValidTagKey(k) {
			return &TagError{"tags", fmt.Sprintf("tag key %q must be 1 to %d characters: a lower-case letter, then a-z, 0-9, '.', '_' or '-'",
				k, MaxTagKeyLen)}
		}
		if !ValidTagValue(tags[k]) {
			return &TagError{"tags." + k, fmt.Sprintf("tag value %q must be 1 to %d characters: a letter or digit, then letters, digits, '.', '_', '-', '/' or '+'",
				tags[k], MaxTagValueLen)}
		}
	}
	return nil
}
