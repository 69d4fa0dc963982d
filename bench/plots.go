package bench

import (
	"image/color"
	"runtime"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func numCPU() int { return runtime.NumCPU() }

// pctSeries is one line of a percentile plot: values (ns) at the labels.
type pctSeries struct {
	Name   string
	Values []float64
}

// plotPercentiles draws each series' latency at the given percentiles, on a
// log scale, in µs.
func plotPercentiles(path, title string, labels []string, series []pctSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "latency (µs, log scale)"
	p.X.Label.Text = "percentile"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.NominalX(labels...)
	var args []any
	for _, s := range series {
		xy := make(plotter.XYs, len(s.Values))
		for i, v := range s.Values {
			xy[i].X = float64(i)
			xy[i].Y = max(v/1e3, 0.1)
		}
		args = append(args, s.Name, xy)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// plotRTT draws the round-trip CDF of every target of one NIC model.
func plotRTT(path, model string, targets []*TargetResult) error {
	p := plot.New()
	p.Title.Text = "reflect round trip, one frame at a time: " + model
	p.X.Label.Text = "round trip (µs, log scale)"
	p.Y.Label.Text = "fraction of frames"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	i := 0
	for _, t := range targets {
		if !inGroup(t, model) || len(t.Samples) == 0 {
			continue
		}
		s := slices.Clone(t.Samples)
		slices.Sort(s)
		xy := make(plotter.XYs, len(s))
		for j, d := range s {
			xy[j].X = float64(d) / float64(time.Microsecond)
			xy[j].Y = float64(j+1) / float64(len(s))
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		l.Width = vg.Points(1.5)
		if t.Mode == "kernel" {
			l.Color = color.Black
			l.Width = vg.Points(2.5)
		}
		p.Add(l)
		name := "uiodrv " + t.Mode
		if t.Mode == "kernel" {
			name = "kernel driver"
		} else if t.NIC.Kernel {
			name = "kernel " + t.Mode
		}
		p.Legend.Add(name, l)
		i++
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
