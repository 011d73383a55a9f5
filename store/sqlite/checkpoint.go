package sqlite

import (
	"database/sql"
	"time"
)

// checkpointMinInterval is the least time between two background
// checkpoints.
const checkpointMinInterval = 200 * time.Millisecond

// checkpointer copies committed WAL pages into the database file in the
// background, so that writers do not do it at commit (SQLite's automatic
// checkpoint runs inside the commit of the transaction that crosses the WAL
// size threshold, and costs as much as writing the pages did). It runs
// PASSIVE checkpoints, which never block readers or the writer, on its own
// connection, after writes and at most every checkpointMinInterval.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// written tells the checkpointer that a transaction was committed.
func (c *checkpointer) written() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// A failed checkpoint is harmless: the pages stay in the WAL, and
		// the next one (or SQLite's automatic one) copies them.
		_, _ = c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointMinInterval):
		}
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
