package dialect

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsTransient(t *testing.T) {
	transient := []error{
		driver.ErrBadConn, mysql.ErrInvalidConn, io.ErrUnexpectedEOF, syscall.ECONNREFUSED,
		&mysql.MySQLError{Number: 1213, Message: "Deadlock found"},
		&mysql.MySQLError{Number: 2013},
		&pgconn.PgError{Code: "08006"}, &pgconn.PgError{Code: "40P01"}, &pgconn.PgError{Code: "57P01"},
	}
	for _, err := range transient {
		if !IsTransient(fmt.Errorf("upserting: %w", err)) {
			t.Errorf("%v (%T) not transient", err, err)
		}
	}
	permanent := []error{
		errors.New("syntax"), &mysql.MySQLError{Number: 1048, Message: "cannot be null"},
		&mysql.MySQLError{Number: 1062}, &pgconn.PgError{Code: "23502"}, &pgconn.PgError{Code: "42P01"}, nil,
	}
	for _, err := range permanent {
		if IsTransient(err) {
			t.Errorf("%v (%T) transient", err, err)
		}
	}
}

func TestIsUnreachable(t *testing.T) {
	unreachable := []error{
		driver.ErrBadConn, mysql.ErrInvalidConn, io.EOF, syscall.ECONNREFUSED, syscall.ECONNRESET,
		&mysql.MySQLError{Number: 2013}, &mysql.MySQLError{Number: 1053},
		&pgconn.PgError{Code: "08006"}, &pgconn.PgError{Code: "57P03"},
	}
	for _, err := range unreachable {
		if !IsUnreachable(fmt.Errorf("upserting: %w", err)) {
			t.Errorf("%v (%T) not unreachable", err, err)
		}
	}
	reachable := []error{
		&mysql.MySQLError{Number: 1213, Message: "Deadlock found"}, &mysql.MySQLError{Number: 1045, Message: "Access denied"},
		&pgconn.PgError{Code: "40P01"}, &pgconn.PgError{Code: "28P01"}, errors.New("syntax"), nil,
	}
	for _, err := range reachable {
		if IsUnreachable(err) {
			t.Errorf("%v (%T) unreachable", err, err)
		}
	}
}
