package clock

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// The years holidays.csv covers in full.
const firstYear, lastYear = 2024, 2027

//go:embed holidays.csv
var holidaysCSV []byte

// publicHolidays maps YYYY-MM-DD to the holiday's name (names joined with "·" when two holidays
// share a date).
var publicHolidays = func() map[string]string {
	rows, err := parseHolidays(holidaysCSV)
	if err != nil {
		panic(err) // the embedded table is checked by TestHolidayTable
	}
	m := make(map[string]string, len(rows))
	for _, r := range rows {
		addName(m, r.date.Format(time.DateOnly), r.name)
	}
	return m
}()

// holiday is one row of holidays.csv.
type holiday struct {
	date        time.Time
	name        string
	substitutes time.Time // for a 대체공휴일, the date of the holiday it makes up for; else zero
}

func parseHolidays(data []byte) ([]holiday, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = 3
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("holidays.csv: %w", err)
	}
	if !slices.Equal(header, []string{"date", "name", "substitutes"}) {
		return nil, fmt.Errorf("holidays.csv: header %q", header)
	}
	var rows []holiday
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("holidays.csv: %w", err)
		}
		line, _ := r.FieldPos(0)
		h := holiday{name: rec[1]}
		if h.date, err = time.Parse(time.DateOnly, rec[0]); err != nil {
			return nil, fmt.Errorf("holidays.csv:%d: %w", line, err)
		}
		if h.name == "" {
			return nil, fmt.Errorf("holidays.csv:%d: no name", line)
		}
		if rec[2] != "" {
			if h.substitutes, err = time.Parse(time.DateOnly, rec[2]); err != nil {
				return nil, fmt.Errorf("holidays.csv:%d: %w", line, err)
			}
		}
		rows = append(rows, h)
	}
}
