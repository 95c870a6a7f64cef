package dialect

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		url, user, pw       string
		driver, dsn, dbname string
	}{
		{"jdbc:mysql://db.example:3307/shop?user=u&password=p&useSSL=false", "", "", "mysql",
			"u:p@tcp(db.example:3307)/shop?interpolateParams=true&parseTime=true", "shop"},
		{"jdbc:mariadb://h/shop", "cfgu", "cfgp", "mysql", "cfgu:cfgp@tcp(h:3306)/shop?interpolateParams=true&parseTime=true", "shop"},
		{"jdbc:mysql://h1:3306,h2:3306/shop?user=u", "", "", "mysql", "u@tcp(h1:3306)/shop?interpolateParams=true&parseTime=true", "shop"},
		{"jdbc:postgresql://pg:5433/app?user=u&password=p%40ss&sslmode=disable&reWriteBatchedInserts=true", "", "", "pgx",
			"postgres://u:p%40ss@pg:5433/app?sslmode=disable", "app"},
		{"jdbc:postgresql://pg/app", "cu", "", "pgx", "postgres://cu:@pg:5432/app", "app"},
		{"jdbc:postgresql:app", "", "", "pgx", "postgres://localhost:5432/app", "app"},
		{"jdbc:sqlite:/tmp/x.db", "", "", "sqlite", "/tmp/x.db?_pragma=busy_timeout(10000)&_time_format=sqlite", "/tmp/x.db"},
	}
	for _, c := range cases {
		got, err := ParseURL(c.url, c.user, c.pw)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got.Driver != c.driver || got.DSN != c.dsn || got.Database != c.dbname {
			t.Errorf("%s: got %s %q %q, want %s %q %q", c.url, got.Driver, got.DSN, got.Database, c.driver, c.dsn, c.dbname)
		}
		if got.Dialect.DriverName() != got.Driver {
			t.Errorf("%s: dialect driver %s", c.url, got.Dialect.DriverName())
		}
	}
	for _, bad := range []string{"mysql://h/db", "jdbc:oracle:thin:@h:1521:x", "jdbc:sqlite:", "jdbc:mysql://h:notaport/db"} {
		if _, err := ParseURL(bad, "", ""); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	_, err := ParseURL("jdbc:oracle:thin:@h?password=secret", "", "")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("password not redacted: %v", err)
	}
	tg, _ := ParseURL("jdbc:postgresql://pg/app?user=u&password=secret", "", "")
	if strings.Contains(tg.Redacted(), "secret") {
		t.Errorf("redacted: %s", tg.Redacted())
	}
	tg, _ = ParseURL("jdbc:mysql://h/app?user=u&password=secret", "", "")
	if strings.Contains(tg.Redacted(), "secret") {
		t.Errorf("redacted: %s", tg.Redacted())
	}
}

func TestParseTableID(t *testing.T) {
	cases := []struct {
		d    *Dialect
		in   string
		want TableID
		sql  string
	}{
		{MySQL(), "orders", TableID{Table: "orders"}, "`orders`"},
		{MySQL(), "shop.orders", TableID{Catalog: "shop", Table: "orders"}, "`shop`.`orders`"},
		{PostgreSQL(), "public.Orders", TableID{Schema: "public", Table: "Orders"}, `"public"."Orders"`},
		{PostgreSQL().WithQuoting(false), `public.Orders`, TableID{Schema: "public", Table: "orders"}, `public.orders`},
		{PostgreSQL().WithQuoting(false), `"Odd.Name"`, TableID{Table: "Odd.Name"}, `Odd.Name`},
		{PostgreSQL(), `db.s."we""ird"`, TableID{Catalog: "db", Schema: "s", Table: `we"ird`}, `"db"."s"."we""ird"`},
		{SQLite(), "main.t", TableID{Schema: "main", Table: "t"}, `"t"`},
	}
	for _, c := range cases {
		got, err := c.d.ParseTableID(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s %q: %+v %v, want %+v", c.d.Name(), c.in, got, err, c.want)
		}
		if s := c.d.Table(got); s != c.sql {
			t.Errorf("%s %q: rendered %s, want %s", c.d.Name(), c.in, s, c.sql)
		}
	}
	if _, err := PostgreSQL().ParseTableID(`"open`); err == nil {
		t.Error("unterminated quote accepted")
	}
	if _, err := PostgreSQL().ParseTableID(`a.b.c.d`); err == nil {
		t.Error("four parts accepted")
	}
}

func TestDMLGolden(t *testing.T) {
	tbl := TableID{Table: "t"}
	keys, cols := []string{"id", "k2"}, []string{"a", "b"}
	type gold struct{ mysql, pg, sqlite string }
	check := func(name string, f func(d *Dialect) string, g gold) {
		t.Helper()
		for _, c := range []struct {
			d    *Dialect
			want string
		}{{MySQL(), g.mysql}, {PostgreSQL(), g.pg}, {SQLite(), g.sqlite}} {
			if got := f(c.d); got != c.want {
				t.Errorf("%s %s:\n got %s\nwant %s", name, c.d.Name(), got, c.want)
			}
		}
	}
	must := func(s string, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return s
	}
	check("insert", func(d *Dialect) string { return d.InsertSQL(tbl, keys, cols, 1) }, gold{
		"INSERT INTO `t`(`id`,`k2`,`a`,`b`) VALUES(?,?,?,?)",
		`INSERT INTO "t"("id","k2","a","b") VALUES($1,$2,$3,$4)`,
		`INSERT INTO "t"("id","k2","a","b") VALUES(?,?,?,?)`})
	check("insert2", func(d *Dialect) string { return d.InsertSQL(tbl, nil, []string{"a"}, 2) }, gold{
		"INSERT INTO `t`(`a`) VALUES(?),(?)",
		`INSERT INTO "t"("a") VALUES($1),($2)`,
		`INSERT INTO "t"("a") VALUES(?),(?)`})
	check("upsert", func(d *Dialect) string { return must(d.UpsertSQL(tbl, keys, cols, 2)) }, gold{
		"INSERT INTO `t`(`id`,`k2`,`a`,`b`) VALUES(?,?,?,?),(?,?,?,?) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`),`b`=VALUES(`b`)",
		`INSERT INTO "t" ("id","k2","a","b") VALUES ($1,$2,$3,$4),($5,$6,$7,$8) ON CONFLICT ("id","k2") DO UPDATE SET "a"=EXCLUDED."a","b"=EXCLUDED."b"`,
		`INSERT OR REPLACE INTO "t"("id","k2","a","b") VALUES(?,?,?,?),(?,?,?,?)`})
	check("upsert keys only", func(d *Dialect) string { return must(d.UpsertSQL(tbl, []string{"id"}, nil, 1)) }, gold{
		"INSERT INTO `t`(`id`) VALUES(?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`)",
		`INSERT INTO "t" ("id") VALUES ($1) ON CONFLICT ("id") DO NOTHING`,
		`INSERT OR REPLACE INTO "t"("id") VALUES(?)`})
	check("upsert no keys", func(d *Dialect) string { return must(d.UpsertSQL(tbl, nil, cols, 1)) }, gold{
		"error: upsert into t needs at least one primary key column (set pk.mode)",
		"error: upsert into t needs at least one primary key column (set pk.mode)",
		"error: upsert into t needs at least one primary key column (set pk.mode)"})
	check("update", func(d *Dialect) string { return must(d.UpdateSQL(tbl, keys, cols)) }, gold{
		"UPDATE `t` SET `a` = ?, `b` = ? WHERE `id` = ? AND `k2` = ?",
		`UPDATE "t" SET "a" = $1, "b" = $2 WHERE "id" = $3 AND "k2" = $4`,
		`UPDATE "t" SET "a" = ?, "b" = ? WHERE "id" = ? AND "k2" = ?`})
	check("delete", func(d *Dialect) string { return must(d.DeleteSQL(tbl, keys, 1)) }, gold{
		"DELETE FROM `t` WHERE `id` = ? AND `k2` = ?",
		`DELETE FROM "t" WHERE "id" = $1 AND "k2" = $2`,
		`DELETE FROM "t" WHERE "id" = ? AND "k2" = ?`})
	check("delete many", func(d *Dialect) string { return must(d.DeleteSQL(tbl, keys, 2)) }, gold{
		"DELETE FROM `t` WHERE (`id`,`k2`) IN ((?,?),(?,?))",
		`DELETE FROM "t" WHERE ("id","k2") IN (($1,$2),($3,$4))`,
		`DELETE FROM "t" WHERE ("id","k2") IN ((?,?),(?,?))`})
	check("delete many one key", func(d *Dialect) string { return must(d.DeleteSQL(tbl, []string{"id"}, 3)) }, gold{
		"DELETE FROM `t` WHERE `id` IN (?,?,?)",
		`DELETE FROM "t" WHERE "id" IN ($1,$2,$3)`,
		`DELETE FROM "t" WHERE "id" IN (?,?,?)`})
	check("unquoted", func(d *Dialect) string { return d.WithQuoting(false).InsertSQL(tbl, nil, []string{"a"}, 1) }, gold{
		"INSERT INTO t(a) VALUES(?)", `INSERT INTO t(a) VALUES($1)`, `INSERT INTO t(a) VALUES(?)`})
}

func TestDDLGolden(t *testing.T) {
	cols := []Column{
		{Name: "id", Schema: connect.Int64Schema, Key: true},
		{Name: "name", Schema: connect.StringSchema, Key: true},
		{Name: "i8", Schema: connect.OptionalInt8Schema},
		{Name: "f32", Schema: connect.Float32Schema},
		{Name: "ok", Schema: connect.NewSchemaBuilder(connect.Boolean).DefaultValue(true).MustBuild()},
		{Name: "raw", Schema: connect.OptionalBytesSchema},
		{Name: "price", Schema: connect.DecimalSchema(2).Optional().MustBuild()},
		{Name: "day", Schema: connect.DateSchema().Optional().MustBuild()},
		{Name: "tod", Schema: connect.TimeSchema().Optional().MustBuild()},
		{Name: "at", Schema: connect.TimestampSchema().MustBuild()},
		{Name: "s", Schema: connect.NewSchemaBuilder(connect.String).Optional().DefaultValue("x'y").MustBuild()},
	}
	want := map[Kind]string{
		KindMySQL: "CREATE TABLE `t` (\n`id` BIGINT NOT NULL,\n`name` VARCHAR(256) NOT NULL,\n`i8` TINYINT NULL,\n`f32` FLOAT NOT NULL,\n" +
			"`ok` TINYINT DEFAULT 1 NULL,\n`raw` VARBINARY(1024) NULL,\n`price` DECIMAL(65,2) NULL,\n`day` DATE NULL,\n`tod` TIME(3) NULL,\n" +
			"`at` DATETIME(3) NOT NULL,\n`s` TEXT NULL,\nPRIMARY KEY(`id`,`name`))",
		KindPostgreSQL: "CREATE TABLE \"t\" (\n\"id\" BIGINT NOT NULL,\n\"name\" TEXT NOT NULL,\n\"i8\" SMALLINT NULL,\n\"f32\" REAL NOT NULL,\n" +
			"\"ok\" BOOLEAN DEFAULT true NULL,\n\"raw\" BYTEA NULL,\n\"price\" DECIMAL NULL,\n\"day\" DATE NULL,\n\"tod\" TIME NULL,\n" +
			"\"at\" TIMESTAMP NOT NULL,\n\"s\" TEXT DEFAULT 'x''y' NULL,\nPRIMARY KEY(\"id\",\"name\"))",
		KindSQLite: "CREATE TABLE \"t\" (\n\"id\" INTEGER NOT NULL,\n\"name\" TEXT NOT NULL,\n\"i8\" INTEGER NULL,\n\"f32\" REAL NOT NULL,\n" +
			"\"ok\" INTEGER DEFAULT 1 NULL,\n\"raw\" BLOB NULL,\n\"price\" NUMERIC NULL,\n\"day\" NUMERIC NULL,\n\"tod\" NUMERIC NULL,\n" +
			"\"at\" NUMERIC NOT NULL,\n\"s\" TEXT DEFAULT 'x''y' NULL,\nPRIMARY KEY(\"id\",\"name\"))",
	}
	for _, d := range []*Dialect{MySQL(), PostgreSQL(), SQLite()} {
		got, err := d.CreateTableSQL(TableID{Table: "t"}, cols)
		if err != nil || got != want[d.Kind()] {
			t.Errorf("%s:\n got %s (%v)\nwant %s", d.Name(), got, err, want[d.Kind()])
		}
		alter, err := d.AddColumnSQL(TableID{Table: "t"}, []Column{{Name: "n", Schema: connect.OptionalInt32Schema}})
		if err != nil || len(alter) != 1 {
			t.Fatalf("%s: %v %v", d.Name(), alter, err)
		}
		wantAlter := map[Kind]string{KindMySQL: "ALTER TABLE `t` ADD `n` INT NULL",
			KindPostgreSQL: `ALTER TABLE "t" ADD COLUMN "n" INT NULL`, KindSQLite: `ALTER TABLE "t" ADD COLUMN "n" INTEGER NULL`}[d.Kind()]
		if alter[0] != wantAlter {
			t.Errorf("%s: alter %s, want %s", d.Name(), alter[0], wantAlter)
		}
	}
	if _, err := SQLite().ColumnType(connect.ArrayOf(connect.Int32Schema).MustBuild(), false); err == nil {
		t.Error("sqlite array accepted")
	}
	if typ, err := PostgreSQL().ColumnType(connect.ArrayOf(connect.Int32Schema).MustBuild(), false); err != nil || typ != "INT[]" {
		t.Errorf("pg array: %s %v", typ, err)
	}
}

func TestOpenSQLiteAndColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, d, err := Open(t.Context(), "jdbc:sqlite:"+path, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols, err := d.Columns(t.Context(), db, TableID{Table: "t"})
	if err != nil || cols != nil {
		t.Fatalf("missing table: %v %v", cols, err)
	}
	if _, err := db.Exec(`CREATE TABLE "t" (id INTEGER NOT NULL, v TEXT, PRIMARY KEY(id))`); err != nil {
		t.Fatal(err)
	}
	cols, err = d.Columns(t.Context(), db, TableID{Table: "t"})
	if err != nil || len(cols) != 2 || !cols[0].Key || cols[0].Nullable || cols[1].Key || !cols[1].Nullable || cols[1].Type != "text" {
		t.Fatalf("columns: %+v %v", cols, err)
	}
}
