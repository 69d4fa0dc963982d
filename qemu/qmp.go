package qemu

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmpClient speaks the QEMU Machine Protocol over a unix socket.
type qmpClient struct {
	conn net.Conn
	rd   *bufio.Reader
}

func dialQMP(path string) (*qmpClient, error) {
	var conn net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if conn, err = net.Dial("unix", path); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("qmp: %w", err)
	}
	c := &qmpClient{conn: conn, rd: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.rd.ReadBytes('\n'); err != nil { // greeting
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: %w", err)
	}
	if err := c.execute("qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *qmpClient) execute(cmd string, args any) error { return c.call(cmd, args, nil) }

// call runs cmd and decodes its return value into out (unless nil).
func (c *qmpClient) call(cmd string, args any, out any) error {
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		line, err := c.rd.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		if resp.Event != "" {
			continue
		}
		if resp.Error != nil {
			return fmt.Errorf("qmp %s: %s: %s", cmd, resp.Error.Class, resp.Error.Desc)
		}
		if out != nil {
			if err := json.Unmarshal(resp.Return, out); err != nil {
				return fmt.Errorf("qmp %s: %w", cmd, err)
			}
		}
		return nil
	}
}

func (c *qmpClient) Close() error { return c.conn.Close() }

// SetLink sets the link of NIC i up or down through the QEMU monitor
// (QMP set_link). The VM must have been started with Config.QMP.
func (vm *VM) SetLink(i int, up bool) error {
	if vm.qmpPath == "" {
		return errors.New("lab: SetLink needs Config.QMP")
	}
	return vm.qmpCall("set_link", map[string]any{"name": fmt.Sprintf("n%d", i), "up": up}, nil)
}

// HMP runs a human-monitor command (QMP human-monitor-command) and returns
// its output. The VM must have been started with Config.QMP.
func (vm *VM) HMP(cmd string) (string, error) {
	if vm.qmpPath == "" {
		return "", errors.New("lab: HMP needs Config.QMP")
	}
	var out string
	if err := vm.qmpCall("human-monitor-command", map[string]any{"command-line": cmd}, &out); err != nil {
		return "", fmt.Errorf("lab: HMP %q: %w", cmd, err)
	}
	return out, nil
}

// qmpCall runs a QMP command on the VM's monitor (Config.QMP), dialling it
// on first use.
func (vm *VM) qmpCall(cmd string, args, out any) error {
	vm.qmpMu.Lock()
	defer vm.qmpMu.Unlock()
	if vm.qmp == nil {
		c, err := dialQMP(vm.qmpPath)
		if err != nil {
			return err
		}
		vm.qmp = c
	}
	return vm.qmp.call(cmd, args, out)
}
