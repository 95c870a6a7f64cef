package javajson

import "time"

func timeFromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
