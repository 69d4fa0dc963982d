package main

import (
	"io"
	"os"

	"github.com/spf13/pflag"
	"github.com/uiodrv/uiodrv/internal/unix"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logFlags are the logging flags every command has.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&l.format, "log-format", "console", "log format: console (readable) or json")
}

// logger builds a zap logger writing to w. Nothing in uiodrv logs per packet.
func (l *logFlags) logger(w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(l.level)
	if err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", l.level)
	}
	var enc zapcore.Encoder
	switch l.format {
	case "json":
		enc = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	case "console":
		c := zap.NewDevelopmentEncoderConfig()
		c.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		if isTerminal(w) {
			c.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(c)
	default:
		return nil, usagef("--log-format %q: want console or json", l.format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl)), nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
