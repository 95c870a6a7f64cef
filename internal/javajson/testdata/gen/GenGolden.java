// GenGolden writes the bytes Apache Kafka's JsonConverter produces for a
// fixed list of cases, one file per case, so that Ferry's converter can be
// checked against them byte for byte. Run it through gen.sh.
//
// Every case here has a twin in ../../golden_test.go; keep the two lists in
// step (same names, same schemas, same values).

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Date;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Time;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.json.JsonConverter;

public class GenGolden {
    private static Path out;

    public static void main(String[] args) throws IOException {
        out = Path.of(args[0]);
        Files.createDirectories(out);

        // Primitives, each with a schema.
        emit("int8", "", Schema.INT8_SCHEMA, (byte) -42);
        emit("int16", "", Schema.INT16_SCHEMA, (short) 12345);
        emit("int32", "", Schema.INT32_SCHEMA, 123456789);
        emit("int64", "", Schema.INT64_SCHEMA, -9007199254740993L);
        emit("float32", "", Schema.FLOAT32_SCHEMA, 1.5f);
        emit("float64", "", Schema.FLOAT64_SCHEMA, 0.1);
        emit("boolean", "", Schema.BOOLEAN_SCHEMA, true);
        emit("string", "", Schema.STRING_SCHEMA, "hello");
        emit("bytes", "", Schema.BYTES_SCHEMA, new byte[] {0, 1, 2, (byte) 0xfe, (byte) 0xff});
        emit("bytes_empty", "", Schema.BYTES_SCHEMA, new byte[0]);

        // Float formatting.
        emit("doubles", "schemas.enable=false", SchemaBuilder.array(Schema.FLOAT64_SCHEMA).build(), Arrays.asList(
            1.0, 1.0E10, 1.0E-5, 0.1, 123456.789, 1.0E7, 9999999.0, 0.001, 0.0001, -0.0, 0.0, 100.0,
            Double.MIN_VALUE, Double.MAX_VALUE, -2.5E-300, 1.2345678901234567E19, 4.35));
        emit("floats", "schemas.enable=false", SchemaBuilder.array(Schema.FLOAT32_SCHEMA).build(), Arrays.asList(
            1.0f, 0.1f, 1.0E10f, Float.MAX_VALUE, Float.MIN_VALUE, 3.14159f, -1.0E-4f, 1.0E7f, 16777216.0f));
        emit("double_nan", "schemas.enable=false", Schema.FLOAT64_SCHEMA, Double.NaN);
        emit("double_inf", "schemas.enable=false", Schema.FLOAT64_SCHEMA, Double.POSITIVE_INFINITY);
        emit("double_neginf", "schemas.enable=false", Schema.FLOAT64_SCHEMA, Double.NEGATIVE_INFINITY);

        // String escaping.
        emit("string_unicode", "", Schema.STRING_SCHEMA, "h\u00e9llo \u65e5\u672c \uD83D\uDE00 \u2028\u2029");
        emit("string_escapes", "", Schema.STRING_SCHEMA,
            "q\"b\\s/l<g>a&c\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f\u0080end");

        // Optional and default handling.
        emit("optional_null", "", Schema.OPTIONAL_STRING_SCHEMA, null);
        emit("optional_null_noenv", "schemas.enable=false", Schema.OPTIONAL_STRING_SCHEMA, null);
        Schema optDefault = SchemaBuilder.int32().optional().defaultValue(7).build();
        emit("default_replaced", "", optDefault, null);
        emit("default_kept_null", "replace.null.with.default=false", optDefault, null);
        emit("null_schemaless_envelope", "", null, null);

        // Schema metadata and defaults of every kind.
        Schema meta = SchemaBuilder.struct().name("com.example.Meta").version(3).doc("a \"doc\"")
            .parameter("a", "1").parameter("b", "two")
            .field("s", SchemaBuilder.string().defaultValue("dflt").doc("field doc").build())
            .field("l", SchemaBuilder.int64().optional().defaultValue(-5L).build())
            .field("b", SchemaBuilder.bool().defaultValue(false).build())
            .field("d", SchemaBuilder.float64().defaultValue(1.5).build())
            .field("y", SchemaBuilder.bytes().optional().defaultValue(new byte[] {9, 8}).build())
            .field("a", SchemaBuilder.array(Schema.INT32_SCHEMA).optional().defaultValue(Arrays.asList(1, 2)).build())
            .field("n", SchemaBuilder.string().optional().name("n.name").version(1).build())
            .build();
        emit("schema_meta", "", meta, new Struct(meta).put("n", "set"));
        emit("schema_meta_noenv", "schemas.enable=false", meta, new Struct(meta));

        // Nested containers.
        Schema inner = SchemaBuilder.struct().name("Inner").field("x", Schema.INT32_SCHEMA)
            .field("y", Schema.OPTIONAL_STRING_SCHEMA).build();
        Schema outer = SchemaBuilder.struct().name("Outer")
            .field("inner", inner)
            .field("list", SchemaBuilder.array(inner).build())
            .field("strmap", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.INT32_SCHEMA).build())
            .field("intmap", SchemaBuilder.map(Schema.INT32_SCHEMA, Schema.STRING_SCHEMA).build())
            .field("optlist", SchemaBuilder.array(Schema.OPTIONAL_INT64_SCHEMA).optional().build())
            .field("nested", SchemaBuilder.array(SchemaBuilder.array(Schema.STRING_SCHEMA).build()).build())
            .build();
        Map<String, Integer> strmap = new HashMap<>();
        for (String k : new String[] {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "k1", "k10"}) {
            strmap.put(k, k.length());
        }
        Map<Integer, String> intmap = new LinkedHashMap<>();
        intmap.put(3, "three");
        intmap.put(-1, "minus one");
        intmap.put(1000, "thousand");
        Struct outerVal = new Struct(outer)
            .put("inner", new Struct(inner).put("x", 1).put("y", "one"))
            .put("list", Arrays.asList(new Struct(inner).put("x", 2), new Struct(inner).put("x", 3).put("y", "three")))
            .put("strmap", strmap)
            .put("intmap", intmap)
            .put("optlist", Arrays.asList(1L, null, 3L))
            .put("nested", Arrays.asList(Arrays.asList("a", "b"), List.of()));
        emit("nested", "", outer, outerVal);
        emit("nested_noenv", "schemas.enable=false", outer, outerVal);

        // Decimals.
        BigDecimal[] decs = {
            new BigDecimal("12.34"), new BigDecimal("-12.34"), new BigDecimal("0.00"), new BigDecimal("1.28"),
            new BigDecimal("-1.28"), new BigDecimal("-1.29"), new BigDecimal("12345678901234567890.12"),
        };
        String[] decNames = {"pos", "neg", "zero", "p128", "n128", "n129", "big"};
        Schema dec2 = Decimal.schema(2);
        for (int i = 0; i < decs.length; i++) {
            emit("decimal_b64_" + decNames[i], "", dec2, decs[i]);
            emit("decimal_num_" + decNames[i], "decimal.format=numeric", dec2, decs[i]);
        }
        emit("decimal_b64_scale0", "", Decimal.schema(0), new BigDecimal("100"));
        emit("decimal_num_scale0", "decimal.format=NUMERIC", Decimal.schema(0), new BigDecimal("100"));
        emit("decimal_b64_negscale", "", Decimal.schema(-2), new BigDecimal(BigInteger.valueOf(12), -2));
        emit("decimal_num_negscale", "decimal.format=NUMERIC", Decimal.schema(-2), new BigDecimal(BigInteger.valueOf(12), -2));
        emit("decimal_num_tiny", "decimal.format=NUMERIC", Decimal.schema(9), new BigDecimal("0.000000001"));
        Schema decStruct = SchemaBuilder.struct().field("price", Decimal.builder(2).optional().build()).build();
        emit("decimal_in_struct", "decimal.format=NUMERIC", decStruct, new Struct(decStruct).put("price", new BigDecimal("-0.05")));

        // Date, Time, Timestamp.
        long day = 24L * 60 * 60 * 1000;
        emit("date", "", Date.SCHEMA, new java.util.Date(19797L * day));
        emit("date_pre_epoch", "", Date.SCHEMA, new java.util.Date(-1L * day));
        emit("time", "", Time.SCHEMA, new java.util.Date(45296789L));
        emit("timestamp", "", Timestamp.SCHEMA, new java.util.Date(1700000000123L));
        emit("timestamp_pre_epoch", "", Timestamp.SCHEMA, new java.util.Date(-1234L));
        Schema temporal = SchemaBuilder.struct().name("T")
            .field("d", Date.builder().optional().build())
            .field("t", Time.SCHEMA)
            .field("ts", Timestamp.builder().optional().defaultValue(new java.util.Date(0)).build())
            .build();
        emit("temporal_struct", "", temporal, new Struct(temporal).put("d", new java.util.Date(day)).put("t", new java.util.Date(1)));

        // Schemaless values.
        Map<String, Object> sl = new HashMap<>();
        sl.put("str", "v");
        sl.put("long", 42L);
        sl.put("integer", 7);
        sl.put("dbl", 2.5);
        sl.put("bool", false);
        sl.put("nul", null);
        sl.put("list", Arrays.asList(1L, "two", 3.0, null, true));
        Map<String, Object> inMap = new HashMap<>();
        inMap.put("k", "v");
        sl.put("map", inMap);
        sl.put("bytes", new byte[] {1, 2, 3});
        emit("schemaless_map", "schemas.enable=false", null, sl);
        emit("schemaless_map_envelope", "", null, sl);
        Map<Integer, String> nonStr = new LinkedHashMap<>();
        nonStr.put(1, "a");
        nonStr.put(2, "b");
        emit("schemaless_nonstring_keys", "schemas.enable=false", null, nonStr);
        emit("schemaless_string", "schemas.enable=false", null, "plain");
        emit("schemaless_long", "schemas.enable=false", null, 9223372036854775807L);
        // Offset-topic style keys: ["connector",{partition}].
        Map<String, Object> part = new HashMap<>();
        part.put("filename", "/tmp/in.txt");
        part.put("shard", 3);
        emit("offset_key", "schemas.enable=false", null, Arrays.asList("my-connector", part));
    }

    private static void emit(String name, String cfg, Schema schema, Object value) throws IOException {
        Map<String, Object> conf = new HashMap<>();
        if (!cfg.isEmpty()) {
            for (String kv : cfg.split(",")) {
                String[] p = kv.split("=", 2);
                conf.put(p[0], p[1]);
            }
        }
        JsonConverter c = new JsonConverter();
        c.configure(conf, false);
        byte[] b = c.fromConnectData("topic", schema, value);
        Path f = out.resolve(name + ".json");
        if (b == null) {
            // A null result (tombstone) is recorded as an empty marker file.
            Files.write(out.resolve(name + ".null"), new byte[0]);
            Files.deleteIfExists(f);
            return;
        }
        Files.write(f, b);
    }
}
