package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/talos-gs/talos/backend/api"
)

// System samples the host's health figures. CPU use is the real share of busy time between two
// samples (the previous heartbeat and this one), not a fixed or instantaneous figure.
type System struct {
	// DiskPath is the directory whose filesystem is reported (the state directory).
	DiskPath string
	// ThermalRoot is where thermal zones live; default /sys/class/thermal.
	ThermalRoot string

	mu   sync.Mutex
	prev *cpu.TimesStat
}

// Sample returns the current metrics. A figure the host cannot give is left zero (temperature
// nil) and reported in the returned error, which never stops the heartbeat.
func (s *System) Sample(ctx context.Context) (api.SystemMetrics, error) {
	var m api.SystemMetrics
	var errs []error
	pct, err := s.cpuPercent(ctx)
	m.CPUPercent = pct
	errs = append(errs, err)
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		m.Memory = api.Memory{TotalBytes: vm.Total, UsedBytes: vm.Used, Percent: vm.UsedPercent}
	} else {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	}
	if du, err := disk.UsageWithContext(ctx, s.DiskPath); err == nil {
		m.Disk = api.Memory{TotalBytes: du.Total, UsedBytes: du.Used, Percent: du.UsedPercent}
	} else {
		errs = append(errs, fmt.Errorf("disk %s: %w", s.DiskPath, err))
	}
	if la, err := load.AvgWithContext(ctx); err == nil {
		m.Load = api.Load{Load1: la.Load1, Load5: la.Load5, Load15: la.Load15}
	} else {
		errs = append(errs, fmt.Errorf("load: %w", err))
	}
	m.TemperatureC = s.temperature()
	return m, errors.Join(errs...)
}

func (s *System) cpuPercent(ctx context.Context) (float64, error) {
	times, err := cpu.TimesWithContext(ctx, false)
	if err != nil || len(times) == 0 {
		return 0, fmt.Errorf("cpu times: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.prev
	s.prev = &times[0]
	if prev == nil {
		// The first heartbeat has no previous sample: report the average since boot rather
		// than a made-up 0.
		return BusyPercent(cpu.TimesStat{}, times[0]), nil
	}
	return BusyPercent(*prev, times[0]), nil
}

// BusyPercent is the share of non-idle time between two cumulative CPU time samples, 0–100.
func BusyPercent(a, b cpu.TimesStat) float64 {
	total := func(t cpu.TimesStat) float64 {
		// Guest time is already counted in user time on Linux.
		return t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	}
	idle := func(t cpu.TimesStat) float64 { return t.Idle + t.Iowait }
	dt := total(b) - total(a)
	if dt <= 0 {
		return 0
	}
	busy := dt - (idle(b) - idle(a))
	return min(max(100*busy/dt, 0), 100)
}

// temperature reads the board temperature from the thermal zones: the zone whose type names the
// CPU or SoC when there is one (Raspberry Pi: cpu-thermal), else the first readable zone.
func (s *System) temperature() *float64 {
	root := s.ThermalRoot
	if root == "" {
		root = "/sys/class/thermal"
	}
	zones, _ := filepath.Glob(filepath.Join(root, "thermal_zone*"))
	sort.Strings(zones)
	var first *float64
	for _, z := range zones {
		c, ok := readMilliCelsius(filepath.Join(z, "temp"))
		if !ok {
			continue
		}
		typ, _ := os.ReadFile(filepath.Join(z, "type"))
		t := strings.ToLower(strings.TrimSpace(string(typ)))
		if strings.Contains(t, "cpu") || strings.Contains(t, "soc") || strings.Contains(t, "x86_pkg") {
			return &c
		}
		if first == nil {
			first = &c
		}
	}
	return first
}

func readMilliCelsius(path string) (float64, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil || v < -60000 || v > 200000 { // outside any plausible board temperature
		return 0, false
	}
	return v / 1000, true
}
