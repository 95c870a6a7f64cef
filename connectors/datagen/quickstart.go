package datagen

import (
	"math/rand/v2"
	"strconv"

	"github.com/ferryhq/ferry/connect"
)

// quickstart is one built-in data set: a value schema, the field used as
// the record key, and a generator that fills a value.
type quickstart struct {
	keyField string
	schema   *connect.Schema
	// fill sets every field of v. iteration is the task's record number,
	// for fields that count up from record to record.
	fill func(r *rand.Rand, iteration int64, v *connect.Struct)
}

// The value ranges follow the patterns of the original quickstarts.
const (
	minTime = 1487715775521 // 2017-02-21
	maxTime = 1519273364600 // 2018-02-22
)

var (
	ordersAddressSchema = connect.StructBuilder().Name("ksql.address").
				Field("city", connect.StringSchema).
				Field("state", connect.StringSchema).
				Field("zipcode", connect.Int64Schema).
				MustBuild()
	ordersSchema = connect.StructBuilder().Name("ksql.orders").
			Field("ordertime", connect.Int64Schema).
			Field("orderid", connect.Int32Schema).
			Field("itemid", connect.StringSchema).
			Field("orderunits", connect.Float64Schema).
			Field("address", ordersAddressSchema).
			MustBuild()
	usersSchema = connect.StructBuilder().Name("ksql.users").
			Field("registertime", connect.Int64Schema).
			Field("userid", connect.StringSchema).
			Field("regionid", connect.StringSchema).
			Field("gender", connect.StringSchema).
			MustBuild()
	pageviewsSchema = connect.StructBuilder().Name("ksql.pageviews").
			Field("viewtime", connect.Int64Schema).
			Field("userid", connect.StringSchema).
			Field("pageid", connect.StringSchema).
			MustBuild()
	stockTradesSchema = connect.StructBuilder().Name("ksql.StockTrade").
				Field("side", connect.StringSchema).
				Field("quantity", connect.Int32Schema).
				Field("symbol", connect.StringSchema).
				Field("price", connect.Int32Schema).
				Field("account", connect.StringSchema).
				Field("userid", connect.StringSchema).
				MustBuild()
)

// quickstarts maps the (lower-case) quickstart names to their definitions.
// The definitions are immutable and shared by all tasks.
var quickstarts = map[string]*quickstart{
	"orders": {keyField: "orderid", schema: ordersSchema, fill: func(r *rand.Rand, it int64, v *connect.Struct) {
		addr := connect.NewStruct(ordersAddressSchema).
			MustPut("city", "City_"+digits(r, 1+r.IntN(2))).
			MustPut("state", "State_"+digits(r, 1+r.IntN(2))).
			MustPut("zipcode", between(r, 10000, 100000))
		v.MustPut("ordertime", between(r, minTime, maxTime)).
			MustPut("orderid", int32(it)).
			MustPut("itemid", "Item_"+strconv.Itoa(1+r.IntN(999))).
			MustPut("orderunits", 0.1+r.Float64()*9.9).
			MustPut("address", addr)
	}},
	"users": {keyField: "userid", schema: usersSchema, fill: func(r *rand.Rand, _ int64, v *connect.Struct) {
		v.MustPut("registertime", between(r, minTime, maxTime)).
			MustPut("userid", numbered(r, "User_", 9)).
			MustPut("regionid", numbered(r, "Region_", 9)).
			MustPut("gender", pick(r, "MALE", "FEMALE", "OTHER"))
	}},
	"pageviews": {keyField: "viewtime", schema: pageviewsSchema, fill: func(r *rand.Rand, it int64, v *connect.Struct) {
		v.MustPut("viewtime", 1+10*it).
			MustPut("userid", numbered(r, "User_", 9)).
			MustPut("pageid", numbered(r, "Page_", 99))
	}},
	"stock_trades": {keyField: "symbol", schema: stockTradesSchema, fill: func(r *rand.Rand, _ int64, v *connect.Struct) {
		v.MustPut("side", pick(r, "BUY", "SELL", "SHORT")).
			MustPut("quantity", int32(between(r, 1, 5000))).
			MustPut("symbol", pick(r, "ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT")).
			MustPut("price", int32(between(r, 5, 1000))).
			MustPut("account", pick(r, "ABC123", "LMN456", "XYZ789")).
			MustPut("userid", numbered(r, "User_", 9))
	}},
}

// quickstartNames lists the supported quickstarts in a stable order.
var quickstartNames = []string{"orders", "pageviews", "stock_trades", "users"}

// between returns a number in [lo, hi).
func between(r *rand.Rand, lo, hi int64) int64 { return lo + r.Int64N(hi-lo) }

// numbered returns prefix followed by a number in [1, n].
func numbered(r *rand.Rand, prefix string, n int) string {
	return prefix + strconv.Itoa(1+r.IntN(n))
}

// digits returns n random digits from 1 to 9.
func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('1' + r.IntN(9))
	}
	return string(b)
}

func pick(r *rand.Rand, options ...string) string { return options[r.IntN(len(options))] }
