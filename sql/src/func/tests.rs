//! Unit tests per family; expected values are MariaDB 10.11's.

use super::*;
use trireme_storage::value::Value;

fn s(x: &str) -> Expr {
    Expr::Lit(Value::Str(x.into()))
}
fn i(x: i64) -> Expr {
    Expr::Lit(Value::Int(x))
}
fn d(x: &str) -> Expr {
    Expr::Lit(Value::Decimal(x.parse().unwrap()))
}
fn null() -> Expr {
    Expr::Lit(Value::Null)
}
fn ev(f: Func, a: Vec<Expr>) -> String {
    eval(f, &a, &[]).unwrap().to_text_lossy()
}
fn call(name: &str, a: Vec<Expr>) -> String {
    let (f, lo, hi) = lookup(name).unwrap_or_else(|| panic!("{name} unbound"));
    assert!(a.len() >= lo && a.len() <= hi, "{name} arity");
    let mut a = a;
    if needs_zone(f) {
        a.push(s("SYSTEM"));
    }
    ev(f, a)
}

#[test]
fn strings() {
    assert_eq!(
        call("SUBSTRING_INDEX", vec![s("www.mariadb.org"), s("."), i(2)]),
        "www.mariadb"
    );
    assert_eq!(
        call("SUBSTRING_INDEX", vec![s("www.mariadb.org"), s("."), i(-2)]),
        "mariadb.org"
    );
    assert_eq!(call("LOCATE", vec![s("BAR"), s("foobarbar")]), "4");
    assert_eq!(call("LOCATE", vec![s("bar"), s("foobarbar"), i(5)]), "7");
    assert_eq!(call("INSTR", vec![s("foobarbar"), s("xbar")]), "0");
    assert_eq!(
        call(
            "FIELD",
            vec![s("ej"), s("Hej"), s("ej"), s("Heja"), s("hej"), s("foo")]
        ),
        "2"
    );
    assert_eq!(call("FIELD", vec![null(), s("a")]), "0");
    assert_eq!(call("FIND_IN_SET", vec![s("b"), s("a,b,c,d")]), "2");
    assert_eq!(
        call("ELT", vec![i(1), s("ej"), s("Heja"), s("hej"), s("foo")]),
        "ej"
    );
    assert_eq!(call("ELT", vec![i(5), s("a")]), "NULL");
    assert_eq!(
        call(
            "MAKE_SET",
            vec![i(1 | 4), s("hello"), s("nice"), s("world")]
        ),
        "hello,world"
    );
    assert_eq!(
        call(
            "MAKE_SET",
            vec![i(1 | 4), s("hello"), s("nice"), null(), s("world")]
        ),
        "hello"
    );
    assert_eq!(
        call("EXPORT_SET", vec![i(5), s("Y"), s("N"), s(","), i(4)]),
        "Y,N,Y,N"
    );
    assert_eq!(
        call("INSERT", vec![s("Quadratic"), i(3), i(4), s("What")]),
        "QuWhattic"
    );
    assert_eq!(
        call("INSERT", vec![s("Quadratic"), i(-1), i(4), s("What")]),
        "Quadratic"
    );
    assert_eq!(
        call("INSERT", vec![s("Quadratic"), i(3), i(100), s("What")]),
        "QuWhat"
    );
    assert_eq!(call("QUOTE", vec![s("Don't!")]), "'Don\\'t!'");
    assert_eq!(call("QUOTE", vec![null()]), "NULL");
    assert_eq!(call("SOUNDEX", vec![s("Hello")]), "H400");
    assert_eq!(call("SOUNDEX", vec![s("Quadratically")]), "Q36324");
    assert_eq!(call("STRCMP", vec![s("text"), s("text2")]), "-1");
    assert_eq!(call("STRCMP", vec![s("TEXT"), s("text")]), "0");
    assert_eq!(call("TO_BASE64", vec![s("abc")]), "YWJj");
    assert_eq!(call("FROM_BASE64", vec![s("YWJj")]), "abc");
    assert_eq!(call("UNHEX", vec![s("4D617269614442")]), "MariaDB");
    assert_eq!(call("HEX", vec![s("abc")]), "616263");
    assert_eq!(call("HEX", vec![i(255)]), "FF");
    assert_eq!(
        call(
            "CHAR",
            vec![i(77), i(97), i(114), s("105"), i(97), i(68), i(66)]
        ),
        "MariaDB"
    );
    assert_eq!(call("ORD", vec![s("2")]), "50");
    assert_eq!(call("ASCII", vec![s("dx")]), "100");
    assert_eq!(call("BIT_LENGTH", vec![s("text")]), "32");
    assert_eq!(call("CHAR_LENGTH", vec![s("héllo")]), "5");
    assert_eq!(call("LENGTH", vec![s("héllo")]), "6");
    assert_eq!(call("FORMAT", vec![d("1234567.891"), i(2)]), "1,234,567.89");
    assert_eq!(call("FORMAT", vec![i(1234567), i(0)]), "1,234,567");
    assert_eq!(call("FORMAT", vec![d("-1234.5"), i(0)]), "-1,235");
    assert_eq!(call("CONV", vec![s("a"), i(16), i(2)]), "1010");
    assert_eq!(call("CONV", vec![s("6E"), i(18), i(8)]), "172");
    assert_eq!(call("CONV", vec![i(-17), i(10), i(-18)]), "-H");
    assert_eq!(call("BIN", vec![i(12)]), "1100");
    assert_eq!(call("OCT", vec![i(34)]), "42");
    assert_eq!(call("LPAD", vec![s("hello"), i(10), s("..")]), ".....hello");
    assert_eq!(call("LPAD", vec![s("hello"), i(2)]), "he");
    assert_eq!(call("RPAD", vec![s("hello"), i(7)]), "hello  ");
    assert_eq!(
        call("CONCAT_WS", vec![s(","), s("a"), null(), s("b")]),
        "a,b"
    );
}

#[test]
fn regexps() {
    assert_eq!(ev(Func::RegexpLike, vec![s("New York"), s("^new")]), "1");
    assert_eq!(
        call("REGEXP_REPLACE", vec![s("ab12cd"), s("[0-9]"), s("")]),
        "abcd"
    );
    assert_eq!(
        call(
            "REGEXP_REPLACE",
            vec![s("James Bond"), s("^(.*) (.*)$"), s("\\2, \\1")]
        ),
        "Bond, James"
    );
    assert_eq!(call("REGEXP_SUBSTR", vec![s("ab12cd"), s("[0-9]+")]), "12");
    assert_eq!(call("REGEXP_INSTR", vec![s("abc"), s("b")]), "2");
    let bad = eval(Func::RegexpLike, &[s("a"), s("(")], &[]).unwrap_err();
    assert_eq!(bad.code, 1139);
}

#[test]
fn math() {
    assert_eq!(call("PI", vec![]), "3.141592653589793");
    assert_eq!(call("LOG", vec![i(2), i(65536)]), "16");
    assert_eq!(call("LOG2", vec![i(65536)]), "16");
    assert_eq!(call("LOG10", vec![i(100)]), "2");
    assert_eq!(call("LN", vec![i(0)]), "NULL");
    assert_eq!(call("EXP", vec![i(0)]), "1");
    assert_eq!(
        call(
            "DEGREES",
            vec![Expr::Lit(Value::Double(std::f64::consts::PI))]
        ),
        "180"
    );
    assert_eq!(call("ATAN2", vec![i(0), i(1)]), "0");
    assert_eq!(call("BIT_COUNT", vec![i(29)]), "4");
    assert_eq!(call("BIT_COUNT", vec![i(-1)]), "64");
    assert_eq!(call("SIGN", vec![d("-32.5")]), "-1");
    assert_eq!(call("ACOS", vec![i(2)]), "NULL");
    // MariaDB: SELECT RAND(1) is 0.40540353712197724.
    assert_eq!(call("RAND", vec![i(1)]), "0.40540353712197724");
}

#[test]
fn crypto() {
    assert_eq!(
        call("SHA2", vec![s("abc"), i(224)]),
        "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
    );
    assert_eq!(
        call("SHA2", vec![s("abc"), i(256)]),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(call("SHA2", vec![s("abc"), i(100)]), "NULL");
    assert_eq!(
        call("MD5", vec![s("testing")]),
        "ae2b1fca515949e5d54fb22b8ed95575"
    );
    assert_eq!(call("CRC32", vec![s("MariaDB")]), "4227209140");
    assert_eq!(
        eval(Func::RandomBytes, &[i(8)], &[])
            .unwrap()
            .to_bytes()
            .unwrap()
            .len(),
        8
    );
    assert!(eval(Func::RandomBytes, &[i(0)], &[]).is_err());
}

#[test]
fn dates() {
    assert_eq!(call("DAYNAME", vec![s("2007-02-03")]), "Saturday");
    assert_eq!(call("MONTHNAME", vec![s("2019-02-03")]), "February");
    assert_eq!(call("DAYOFWEEK", vec![s("2007-02-03")]), "7");
    assert_eq!(call("WEEKDAY", vec![s("2008-02-03 22:23:00")]), "6");
    assert_eq!(call("DAYOFYEAR", vec![s("2018-02-16")]), "47");
    assert_eq!(call("QUARTER", vec![s("2008-04-01")]), "2");
    assert_eq!(call("WEEK", vec![s("2008-02-20")]), "7");
    assert_eq!(call("WEEK", vec![s("2008-02-20"), i(1)]), "8");
    assert_eq!(call("WEEK", vec![s("2008-12-31"), i(1)]), "53");
    assert_eq!(call("WEEK", vec![s("2000-01-01"), i(0)]), "0");
    assert_eq!(call("WEEK", vec![s("2000-01-01"), i(2)]), "52");
    assert_eq!(call("WEEKOFYEAR", vec![s("2008-02-20")]), "8");
    assert_eq!(call("YEARWEEK", vec![s("1987-01-01")]), "198652");
    assert_eq!(call("LAST_DAY", vec![s("2004-02-05")]), "2004-02-29");
    assert_eq!(call("TO_DAYS", vec![s("2007-10-07")]), "733321");
    assert_eq!(call("FROM_DAYS", vec![i(730669)]), "2000-07-03");
    assert_eq!(call("TO_SECONDS", vec![s("2013-06-13")]), "63538300800");
    assert_eq!(call("MAKEDATE", vec![i(2011), i(31)]), "2011-01-31");
    assert_eq!(call("MAKEDATE", vec![i(2011), i(0)]), "NULL");
    assert_eq!(call("MAKETIME", vec![i(13), i(57), i(33)]), "13:57:33");
    assert_eq!(call("MAKETIME", vec![i(13), i(67), i(33)]), "NULL");
    assert_eq!(call("TIME", vec![s("2003-12-31 01:02:03")]), "01:02:03");
    assert_eq!(call("TIME_TO_SEC", vec![s("22:23:00")]), "80580");
    assert_eq!(call("SEC_TO_TIME", vec![i(12414)]), "03:26:54");
    assert_eq!(call("SEC_TO_TIME", vec![i(9_999_999)]), "838:59:59");
    assert_eq!(call("HOUR", vec![s("272:59:59")]), "272");
    assert_eq!(call("MICROSECOND", vec![s("12:00:00.123456")]), "123456");
    assert_eq!(
        call(
            "ADDTIME",
            vec![s("2007-12-31 23:59:59.999999"), s("1 1:1:1.000002")]
        ),
        "2008-01-02 01:01:01.000001"
    );
    assert_eq!(
        call("ADDTIME", vec![s("01:00:00.999999"), s("02:00:00.999998")]),
        "03:00:01.999997"
    );
    assert_eq!(
        call("SUBTIME", vec![s("01:00:00.999999"), s("02:00:00.999998")]),
        "-00:59:59.999999"
    );
    assert_eq!(
        call(
            "TIMEDIFF",
            vec![s("2000:01:01 00:00:00"), s("2000:01:01 00:00:00.000001")]
        ),
        "NULL"
    );
    assert_eq!(
        call(
            "TIMEDIFF",
            vec![
                s("2008-12-31 23:59:59.000001"),
                s("2008-12-30 01:01:01.000002")
            ]
        ),
        "46:58:57.999999"
    );
    assert_eq!(
        call("DATEDIFF", vec![s("2007-12-31 23:59:59"), s("2007-12-30")]),
        "1"
    );
    assert_eq!(call("PERIOD_ADD", vec![i(200801), i(2)]), "200803");
    assert_eq!(call("PERIOD_DIFF", vec![i(200802), i(200703)]), "11");
    assert_eq!(
        call("TIMESTAMP", vec![s("2003-12-31 12:00:00"), s("12:00:00")]),
        "2004-01-01 00:00:00"
    );
    assert_eq!(
        call("DATE_FORMAT", vec![s("2009-10-04 22:23:00"), s("%W %M %Y")]),
        "Sunday October 2009"
    );
    assert_eq!(
        call("DATE_FORMAT", vec![s("2007-10-04 22:23:00"), s("%H:%i:%s")]),
        "22:23:00"
    );
    assert_eq!(
        call(
            "DATE_FORMAT",
            vec![s("1900-10-04 22:23:00"), s("%D %y %a %d %m %b %j")]
        ),
        "4th 00 Thu 04 10 Oct 277"
    );
    assert_eq!(
        call(
            "DATE_FORMAT",
            vec![s("1997-10-04 22:23:00"), s("%H %k %I %r %T %S %w")]
        ),
        "22 22 10 10:23:00 PM 22:23:00 00 6"
    );
    assert_eq!(
        call("DATE_FORMAT", vec![s("1999-01-01"), s("%X %V")]),
        "1998 52"
    );
    assert_eq!(
        call("TIME_FORMAT", vec![s("100:00:00"), s("%H %k %h %I %l")]),
        "100 100 04 04 4"
    );
    assert_eq!(
        call("STR_TO_DATE", vec![s("01,5,2013"), s("%d,%m,%Y")]),
        "2013-05-01"
    );
    assert_eq!(
        call("STR_TO_DATE", vec![s("May 1, 2013"), s("%M %d,%Y")]),
        "2013-05-01"
    );
    assert_eq!(
        call("STR_TO_DATE", vec![s("a09:30:17"), s("a%h:%i:%s")]),
        "09:30:17"
    );
    assert_eq!(
        call("STR_TO_DATE", vec![s("a09:30:17"), s("%h:%i:%s")]),
        "NULL"
    );
    assert_eq!(
        call(
            "STR_TO_DATE",
            vec![s("2013-05-01 10:15 PM"), s("%Y-%m-%d %h:%i %p")]
        ),
        "2013-05-01 22:15:00"
    );
    assert_eq!(
        call("FROM_UNIXTIME", vec![i(1_196_440_219)]),
        "2007-11-30 16:30:19"
    );
    assert_eq!(
        call("FROM_UNIXTIME", vec![i(1_196_440_219), s("%Y %D %M")]),
        "2007 30th November"
    );
    assert_eq!(
        call("UNIX_TIMESTAMP", vec![s("2007-11-30 10:30:19")]),
        "1196418619"
    );
}

#[test]
fn date_arithmetic() {
    let date_add = |base: Expr, n: i64, u: IntervalUnit| {
        eval(
            Func::DateAdd,
            &[base, Expr::Interval(u, Box::new(i(n)))],
            &[],
        )
        .unwrap()
    };
    let on_date = Expr::Lit(Value::Date(
        trireme_storage::value::Date::new(2024, 1, 31).unwrap(),
    ));
    assert!(matches!(
        date_add(on_date.clone(), 1, IntervalUnit::Day),
        Value::Date(_)
    ));
    assert_eq!(
        date_add(on_date.clone(), 1, IntervalUnit::Month).to_text_lossy(),
        "2024-02-29"
    );
    assert_eq!(
        date_add(on_date, 1, IntervalUnit::Hour).to_text_lossy(),
        "2024-01-31 01:00:00"
    );
    let diff = |u, a: &str, b: &str| {
        eval(
            Func::TimestampDiff,
            &[Expr::Interval(u, Box::new(i(1))), s(a), s(b)],
            &[],
        )
        .unwrap()
        .to_text_lossy()
    };
    assert_eq!(diff(IntervalUnit::Month, "2003-02-01", "2003-05-01"), "3");
    assert_eq!(diff(IntervalUnit::Year, "2002-05-01", "2001-01-01"), "-1");
    assert_eq!(
        diff(IntervalUnit::Minute, "2003-02-01", "2003-05-01 12:05:55"),
        "128885"
    );
    assert_eq!(diff(IntervalUnit::Month, "2003-01-31", "2003-02-28"), "0");
}

#[test]
fn time_zones() {
    let c = |dt: &str, a: &str, b: &str| call("CONVERT_TZ", vec![s(dt), s(a), s(b)]);
    assert_eq!(
        c("2016-01-01 12:00:00", "+00:00", "+10:00"),
        "2016-01-01 22:00:00"
    );
    assert_eq!(
        c("2001-01-01 01:00:00", "UTC", "UTC"),
        "2001-01-01 01:00:00"
    );
    assert_eq!(
        c("2016-01-01 12:00:00", "UTC", "Europe/Paris"),
        "2016-01-01 13:00:00"
    );
    assert_eq!(
        c("2016-07-01 12:00:00", "UTC", "Europe/Paris"),
        "2016-07-01 14:00:00"
    );
    assert_eq!(
        c("2016-07-01 12:00:00", "America/New_York", "UTC"),
        "2016-07-01 16:00:00"
    );
    assert_eq!(c("2016-01-01 12:00:00", "Nowhere/Land", "UTC"), "NULL");
    // Outside the TIMESTAMP range nothing is converted.
    assert_eq!(
        c("1960-01-01 12:00:00", "UTC", "+05:00"),
        "1960-01-01 12:00:00"
    );
    assert!(tz::parse_zone("+13:00").is_some());
    assert!(tz::parse_zone("+13:01").is_none());
    assert!(tz::parse_zone("-12:59").is_some());
    assert!(tz::parse_zone("bogus").is_none());
    let fu = eval(Func::FromUnixtime, &[i(0), s("Europe/Paris")], &[]).unwrap();
    assert_eq!(fu.to_text_lossy(), "1970-01-01 01:00:00");
}

#[test]
fn misc() {
    assert_eq!(call("INET_ATON", vec![s("10.0.5.9")]), "167773449");
    assert_eq!(call("INET_ATON", vec![s("127.1")]), "2130706433");
    assert_eq!(call("INET_NTOA", vec![i(167_773_449)]), "10.0.5.9");
    assert_eq!(call("IS_IPV4", vec![s("10.0.5.9")]), "1");
    assert_eq!(call("IS_IPV4", vec![s("10.0.5.256")]), "0");
    assert_eq!(call("IS_IPV6", vec![s("::1")]), "1");
    assert_eq!(call("ISNULL", vec![null()]), "1");
    assert_eq!(call("NVL2", vec![null(), i(1), i(2)]), "2");
    assert_eq!(
        call(
            "INTERVAL",
            vec![i(23), i(1), i(15), i(17), i(30), i(44), i(200)]
        ),
        "3"
    );
    assert_eq!(
        call("INTERVAL", vec![i(10), i(1), i(10), i(100), i(1000)]),
        "2"
    );
    assert_eq!(call("INTERVAL", vec![null(), i(1)]), "-1");
}

#[test]
fn at_least_150_builtins() {
    let n = names().count() + crate::func::SESSION_FUNCTIONS.len();
    assert!(n >= 150, "{n} built-ins bound");
}

#[test]
fn json() {
    let c = |n: &str, a: Vec<Expr>| call(n, a);
    assert_eq!(
        c(
            "JSON_EXTRACT",
            vec![s(r#"{"a": {"b": [10, 20]}}"#), s("$.a.b[1]")]
        ),
        "20"
    );
    assert_eq!(
        c(
            "JSON_EXTRACT",
            vec![s(r#"{"a":{"b":1,"c":[1,2]}}"#), s("$.a")]
        ),
        r#"{"b": 1, "c": [1, 2]}"#
    );
    assert_eq!(c("JSON_EXTRACT", vec![s("[1,2,3]"), s("$[-1]")]), "3");
    assert_eq!(c("JSON_EXTRACT", vec![s("[1,2,3]"), s("$[last-1]")]), "2");
    assert_eq!(
        c(
            "JSON_EXTRACT",
            vec![s(r#"{"a":{"b":1},"c":{"b":2}}"#), s("$**.b")]
        ),
        "[1, 2]"
    );
    assert_eq!(
        c("JSON_EXTRACT", vec![s("[1, 2]"), s("$.bad path")]),
        "NULL"
    );
    assert_eq!(
        c("JSON_EXTRACT", vec![s(r#"{"a b":1}"#), s(r#"$."a b""#)]),
        "1"
    );
    assert_eq!(c("JSON_UNQUOTE", vec![s(r#""\u00e9""#)]), "é");
    assert_eq!(c("JSON_QUOTE", vec![i(1)]), "NULL");
    assert_eq!(c("JSON_TYPE", vec![s("1.5e2")]), "DOUBLE");
    assert_eq!(c("JSON_TYPE", vec![s("1e2")]), "INTEGER");
    assert_eq!(
        c("JSON_SET", vec![s(r#"{"a":1}"#), s("$.a[1]"), i(2)]),
        r#"{"a": [1, 2]}"#
    );
    assert_eq!(c("JSON_SET", vec![s("[1]"), s("$[5]"), i(2)]), "[1, 2]");
    assert_eq!(c("JSON_SET", vec![s(r#"{"a":1}"#), s("$.*"), i(1)]), "NULL");
    assert_eq!(c("JSON_INSERT", vec![s("[1]"), s("$[0]"), i(9)]), "[1]");
    assert_eq!(
        c(
            "JSON_REPLACE",
            vec![s(r#"{"a":1}"#), s("$.a"), i(2), s("$.b"), i(3)]
        ),
        r#"{"a": 2}"#
    );
    assert_eq!(
        c(
            "JSON_ARRAY_APPEND",
            vec![s("[1,[2]]"), s("$[1]"), i(3), s("$[0]"), i(4)]
        ),
        "[[1, 4], [2, 3]]"
    );
    assert_eq!(
        c(
            "JSON_ARRAY_INSERT",
            vec![s(r#"{"a":[1]}"#), s("$.a[0]"), i(0), s("$.a[1]"), i(5)]
        ),
        r#"{"a": [0, 5, 1]}"#
    );
    assert_eq!(c("JSON_REMOVE", vec![s("[1,2]"), s("$")]), "NULL");
    assert_eq!(c("JSON_CONTAINS", vec![s("[1,[2,3]]"), s("2")]), "1");
    assert_eq!(c("JSON_CONTAINS", vec![s("1.0"), s("1")]), "1");
    assert_eq!(c("JSON_CONTAINS", vec![s("[1]"), s("1"), s("$.x")]), "0");
    assert_eq!(
        c("JSON_CONTAINS_PATH", vec![s("{}"), s("x"), s("$.a")]),
        "NULL"
    );
    assert_eq!(
        c("JSON_MERGE_PRESERVE", vec![s(r#"{"a":1}"#), s("[2]")]),
        r#"[{"a": 1}, 2]"#
    );
    assert_eq!(c("JSON_MERGE_PATCH", vec![s(r#"{"a":1}"#), null()]), "NULL");
    assert_eq!(c("JSON_VALUE", vec![s(r#"{"a":true}"#), s("$.a")]), "1");
    assert_eq!(c("JSON_VALUE", vec![s(r#"{"a":[1]}"#), s("$.a")]), "NULL");
    assert_eq!(c("JSON_KEYS", vec![s("[1]")]), "NULL");
    assert_eq!(
        c("JSON_LENGTH", vec![s(r#"{"a":[1,2]}"#), s("$.*")]),
        "NULL"
    );
    assert_eq!(c("JSON_DEPTH", vec![s("[[[1]]]")]), "4");
    assert_eq!(
        c("JSON_SEARCH", vec![s(r#"{"a b":"x"}"#), s("one"), s("x")]),
        r#""$.a b""#
    );
    assert_eq!(
        c(
            "JSON_SEARCH",
            vec![
                s(r#"{"a":{"b":"x"},"c":"x"}"#),
                s("all"),
                s("x"),
                null(),
                s("$.a")
            ]
        ),
        r#""$.a.b""#
    );
    assert_eq!(
        c("JSON_DETAILED", vec![s(r#"[1,{"a":2,"b":[]}, {}]"#)]),
        "[\n    1,\n    {\n        \"a\": 2,\n        \"b\": \n        []\n    },\n    {\n    }\n]"
    );
    assert_eq!(
        c("JSON_NORMALIZE", vec![s(r#"{"b":[1,"x"],"a":{"c":1.5}}"#)]),
        r#"{"a":{"c":1.5E0},"b":[1.0E0,"x"]}"#
    );
    assert_eq!(c("JSON_EQUALS", vec![s("[1,2]"), s("[2,1]")]), "0");
    assert_eq!(
        c(
            "JSON_OVERLAPS",
            vec![s(r#"{"a":1,"b":2}"#), s(r#"{"b":2}"#)]
        ),
        "1"
    );
    assert_eq!(c("JSON_OBJECT", vec![null(), i(1)]), r#"{"": 1}"#);
    assert_eq!(
        c(
            "JSON_ARRAY",
            vec![d("1.50"), s("a\"b"), Expr::Lit(Value::Double(1e20))]
        ),
        r#"[1.50, "a\"b", 1e20]"#
    );
    assert_eq!(c("JSON_VALID", vec![s("[1,]")]), "0");
}

#[test]
fn binary_strings_are_cut_by_bytes() {
    let b = || Expr::Lit(Value::Bytes(vec![0xBE, 0xAD, 0xBE, 0xEF]));
    let hex = |f: Func, a: Vec<Expr>| ev(Func::Hex, vec![Expr::Func(f, a)]);
    assert_eq!(hex(Func::Substring, vec![b(), i(2), i(2)]), "ADBE");
    assert_eq!(hex(Func::Left, vec![b(), i(1)]), "BE");
    assert_eq!(hex(Func::Right, vec![b(), i(3)]), "ADBEEF");
    assert_eq!(hex(Func::Reverse, vec![b()]), "EFBEADBE");
    assert_eq!(
        hex(Func::Upper, vec![Expr::Lit(Value::Bytes(b"ab".to_vec()))]),
        "6162"
    );
    assert_eq!(ev(Func::Substring, vec![s("héllo"), i(-4), i(2)]), "él");
    assert_eq!(ev(Func::Substring, vec![s("abc"), i(0)]), "");
}

#[test]
fn functions_of_text_and_blob_columns_are_sized_lobs() {
    let cols = [
        OutCol::expr("t", Some(SqlType::Text(65_535)), true),
        OutCol::expr("b", Some(SqlType::Blob(65_535)), true),
        OutCol::expr("tt", Some(SqlType::Text(255)), true),
    ];
    let ty = |f: Func, a: Vec<Expr>| result_type(f, &a, &cols).0;
    let col = Expr::Col;
    assert_eq!(
        ty(Func::Upper, vec![col(0)]),
        Some(SqlType::Text(16_777_215))
    );
    assert_eq!(ty(Func::Upper, vec![col(1)]), Some(SqlType::Blob(65_535)));
    assert_eq!(ty(Func::Hex, vec![col(1)]), Some(SqlType::Text(16_777_215)));
    assert_eq!(
        ty(Func::Left, vec![col(0), i(3)]),
        Some(SqlType::Varchar(3))
    );
    assert_eq!(
        ty(Func::IfNull, vec![col(2), s("x")]),
        Some(SqlType::Text(65_535))
    );
    assert_eq!(ty(Func::Lower, vec![col(2)]), Some(SqlType::Varchar(255)));
}

#[test]
fn greatest_and_least_compare_as_mariadb_types_them() {
    assert_eq!(ev(Func::Greatest, vec![i(1), d("2.5"), i(3)]), "3.0");
    assert_eq!(ev(Func::Least, vec![s("a"), i(1)]), "0");
    assert_eq!(ev(Func::Greatest, vec![i(1), s("10"), i(9)]), "10");
    assert_eq!(ev(Func::Least, vec![s("b"), s("A"), s("c")]), "A");
    let ty = |a: Vec<Expr>| result_type(Func::Greatest, &a, &[]).0;
    assert_eq!(ty(vec![i(1), null()]), Some(SqlType::Double));
    assert_eq!(ty(vec![i(1), s("2")]), Some(SqlType::Double));
    assert_eq!(ty(vec![s("a"), null()]), Some(SqlType::Varchar(1)));
}

#[test]
fn chr_is_a_character_of_the_given_charset_and_null_for_null() {
    assert_eq!(ev(Func::Chr, vec![s("utf8mb4"), i(65)]), "A");
    assert_eq!(ev(Func::Chr, vec![s("utf8mb4"), i(0xC3A9)]), "é");
    assert!(eval(Func::Chr, &[s("utf8mb4"), null()], &[])
        .unwrap()
        .is_null());
    assert!(!eval(Func::CharUsing, &[s("utf8mb4"), null()], &[])
        .unwrap()
        .is_null());
}

#[test]
fn get_format_is_mariadb_table() {
    use super::datetime::get_format;
    assert_eq!(get_format("DATE", "usa"), Some("%m.%d.%Y"));
    assert_eq!(get_format("TIMESTAMP", "ISO"), Some("%Y-%m-%d %H:%i:%s"));
    assert_eq!(get_format("TIME", "EUR"), Some("%H.%i.%s"));
    assert_eq!(get_format("DATE", "xx"), None);
}
