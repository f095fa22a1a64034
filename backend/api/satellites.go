package api

// Codes of RejectedEvent.Code: why one event of a batch was not stored. A rejected event will
// never be accepted, so the satellite drops it instead of retrying.
const (
	// RejectBadID: the event id is missing or not a UUID.
	RejectBadID = "invalid_id"
	// RejectMissingType: the event has no type.
	RejectMissingType = "missing_type"
	// RejectBadType: the type is not dotted lower-case words of at most 100 characters.
	RejectBadType = "invalid_type"
	// RejectBadSeverity: the severity is not debug, info, warning, error or critical.
	RejectBadSeverity = "unknown_severity"
	// RejectMissingTime: the event has no time.
	RejectMissingTime = "missing_time"
	// RejectFutureTime is no longer sent: an event whose time is ahead of the backend's clock
	// is stored with the time the satellite reported (a station's fast clock must not cost its
	// events), and counted. The code stays reserved so it keeps its meaning for old clients.
	RejectFutureTime = "time_in_future"
	// RejectMessageTooLong: the message exceeds MaxEventMessageBytes.
	RejectMessageTooLong = "message_too_long"
	// RejectDataTooLarge: the data exceeds MaxEventDataBytes.
	RejectDataTooLarge = "data_too_large"
	// RejectBadData: the data is not a JSON object.
	RejectBadData = "invalid_data"
	// RejectBadReference: command_id is not a UUID, or correlation_id is too long.
	RejectBadReference = "invalid_reference"
	// RejectBadText: a text field (named in the message) holds a NUL character or invalid
	// UTF-8, which the backend's database cannot store.
	RejectBadText = "invalid_text"
)

// Per-event limits of an event batch.
const (
	// MaxEventMessageBytes is the longest event message, in bytes.
	MaxEventMessageBytes = 4096
	// MaxEventDataBytes is the largest event data object, in bytes of JSON.
	MaxEventDataBytes = 16 << 10
	// MaxEventClockSkewSeconds is how far ahead of the backend's clock an event's time may lie
	// before the backend counts it as a station clock running fast, in seconds.
	MaxEventClockSkewSeconds = 300
)
