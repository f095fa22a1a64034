package api

// Limits of a heartbeat (POST /api/satellites/{id}/heartbeat). The backend refuses a heartbeat
// over them with 400, so the satellite trims its report to fit before sending it.
const (
	// MaxHeartbeatProcesses is the most entries of Heartbeat.Processes, in processes. A
	// station with more live and recently finished processes reports the live ones first, then
	// the most recently finished.
	MaxHeartbeatProcesses = 256
	// MaxCgroupLimitsLen is the longest Heartbeat.CgroupLimits, in characters (Unicode code
	// points, after trimming surrounding spaces). It is one line: control characters, line
	// breaks included, are refused.
	MaxCgroupLimitsLen = 200
)
