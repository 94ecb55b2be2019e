package pgstore

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// params encodes a prepared statement's parameters into buffers it keeps
// from one statement to the next. pgx's own builder shrinks its buffer back
// to 256 bytes after every statement, so the writer's column arrays grew
// it anew for every batch: about 1.3 KB allocated a heartbeat under stress,
// a quarter of all the server allocated.
type params struct {
	buf     []byte
	values  [][]byte
	formats []int16
}

var paramsPool = sync.Pool{New: func() any { return new(params) }}

// execPrepared runs sql, prepared on conn under name the first time, with
// args in binary.
func execPrepared(ctx context.Context, conn *pgx.Conn, name, sql string, args ...any) error {
	sd, err := conn.Prepare(ctx, name, sql) // a map lookup once prepared
	if err != nil {
		return err
	}
	p := paramsPool.Get().(*params)
	defer paramsPool.Put(p)
	p.buf, p.values, p.formats = p.buf[:0], p.values[:0], p.formats[:0]
	m := conn.TypeMap()
	for i, a := range args {
		start := len(p.buf)
		buf, err := m.Encode(sd.ParamOIDs[i], pgtype.BinaryFormatCode, a, p.buf)
		if err != nil {
			return err
		}
		var v []byte
		if buf != nil { // nil: SQL NULL
			p.buf, v = buf, buf[start:]
		}
		p.values = append(p.values, v)
		p.formats = append(p.formats, pgtype.BinaryFormatCode)
	}
	_, err = conn.PgConn().ExecPrepared(ctx, sd.Name, p.values, p.formats, nil).Close()
	return err
}
