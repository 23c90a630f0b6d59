//! The RESP parser never panics, asks for more on every strict prefix of a frame, reads back
//! what the encoder wrote, and refuses what breaks the limits with Redis's texts; the fuzz
//! corpus (`fuzz/corpus/resp`) goes through the same parsers as the fuzz target.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_server::resp::{Frame, Limits, Protocol, ProtocolError, parse_frame, parse_request};
use proptest::prelude::*;

fn small_limits() -> Limits {
    Limits {
        max_bulk_len: 64,
        max_array_len: 8,
        max_request_bytes: 4096,
        max_inline_len: 64,
        max_depth: 4,
    }
}

fn frame() -> impl Strategy<Value = Frame> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..16);
    let line = || "[a-zA-Z0-9 ]{0,12}".prop_map(String::into_bytes);
    let leaf = prop_oneof![
        line().prop_map(Frame::Simple),
        line().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bytes().prop_map(Frame::Bulk),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        (-1e12f64..1e12).prop_map(Frame::Double),
        "-?[1-9][0-9]{0,30}".prop_map(|d| Frame::BigNumber(d.into_bytes())),
        bytes().prop_map(Frame::BulkError),
        bytes().prop_map(|text| Frame::Verbatim {
            format: *b"txt",
            text
        }),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Frame::Array),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Frame::Set),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Frame::Push),
            proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Frame::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_parse_or_fail_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for limits in [Limits::default(), small_limits()] {
            if let Ok(Some((_, used))) = parse_frame(&bytes, &limits) {
                prop_assert!(used <= bytes.len());
            }
            if let Ok(Some((_, used))) = parse_request(&bytes, &limits) {
                prop_assert!(used <= bytes.len() && used > 0);
            }
        }
    }

    #[test]
    fn encoded_frames_read_back_and_prefixes_ask_for_more(frame in frame()) {
        let bytes = frame.to_bytes(Protocol::Resp3);
        let (back, used) = parse_frame(&bytes, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(&back, &frame);
        prop_assert_eq!(used, bytes.len());
        for cut in 0..bytes.len() {
            prop_assert_eq!(parse_frame(&bytes[..cut], &Limits::default()), Ok(None));
        }
        // RESP2 writes every frame as something RESP2 reads.
        let resp2 = frame.to_bytes(Protocol::Resp2);
        prop_assert!(resp2.is_empty() || parse_frame(&resp2, &Limits::default()).unwrap().is_some());
    }

    #[test]
    fn requests_read_back_whole_and_truncated(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6)) {
        let frame = Frame::Array(args.iter().cloned().map(Frame::Bulk).collect());
        let bytes = frame.to_bytes(Protocol::Resp2);
        prop_assert_eq!(parse_request(&bytes, &Limits::default()), Ok(Some((args.clone(), bytes.len()))));
        for cut in 0..bytes.len() {
            prop_assert_eq!(parse_request(&bytes[..cut], &Limits::default()), Ok(None));
        }
    }
}

#[test]
fn limits_give_redis_error_texts() {
    let limits = small_limits();
    let reply = |bytes: &[u8]| match parse_request(bytes, &limits) {
        Err(e) => e.reply(),
        other => panic!("{other:?}"),
    };
    let text = |t: &str| Frame::Error(t.as_bytes().to_vec());
    assert_eq!(
        reply(b"*1\r\n$65\r\n"),
        text("ERR Protocol error: invalid bulk length")
    );
    assert_eq!(
        reply(b"*1\r\n$-5\r\n"),
        text("ERR Protocol error: invalid bulk length")
    );
    assert_eq!(
        reply(b"*9\r\n"),
        text("ERR Protocol error: invalid multibulk length")
    );
    assert_eq!(
        reply(b"*x\r\n"),
        text("ERR Protocol error: invalid multibulk length")
    );
    assert_eq!(
        reply(b"*1\r\n:1\r\n"),
        text("ERR Protocol error: expected '$', got ':'")
    );
    assert_eq!(
        reply(&[b'a'; 100]),
        text("ERR Protocol error: too big inline request")
    );
    assert_eq!(
        reply(b"SET \"a b\r\n"),
        text("ERR Protocol error: unbalanced quotes in request")
    );
    let mut long = b"*1\r\n$".to_vec();
    long.extend_from_slice(&[b'1'; 100]);
    assert_eq!(
        reply(&long),
        text("ERR Protocol error: too big bulk count string")
    );
    assert_eq!(
        parse_request(b"*1\r\n$3\r\nabcXY", &limits),
        Err(ProtocolError::MissingCrlf)
    );
    let deep = b"*1\r\n".repeat(10);
    assert_eq!(parse_frame(&deep, &limits), Err(ProtocolError::TooDeep));
}

#[test]
fn inline_commands_split_like_a_terminal() {
    let limits = Limits::default();
    let parsed = parse_request(b"set  'it''s' \"a\\x41\\n\"  \r\nGET x\r\n", &limits);
    assert_eq!(parsed, Err(ProtocolError::UnbalancedQuotes));
    let (args, used) = parse_request(b"set 'it\\'s' \"a\\x41\\n\"\r\nGET", &limits)
        .unwrap()
        .unwrap();
    assert_eq!(
        args,
        vec![b"set".to_vec(), b"it's".to_vec(), b"aA\n".to_vec()]
    );
    assert_eq!(used, 23);
    assert_eq!(parse_request(b"\r\n", &limits), Ok(Some((vec![], 2))));
    assert_eq!(parse_request(b"*0\r\n", &limits), Ok(Some((vec![], 4))));
    assert_eq!(parse_request(b"PING", &limits), Ok(None));
}

#[test]
fn fuzz_corpus_parses_or_fails_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/resp");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = parse_request(&bytes, &Limits::default());
        let _ = parse_frame(&bytes, &Limits::default());
        if name.starts_with("valid_") {
            assert!(matches!(parsed, Ok(Some(_))), "{name}: {parsed:?}");
        } else if name.starts_with("truncated_") {
            assert_eq!(parsed, Ok(None), "{name}");
        } else if name.starts_with("bad_") {
            assert!(parsed.is_err(), "{name}: {parsed:?}");
        }
        files += 1;
    }
    assert!(files >= 4, "the corpus in {} is short", dir.display());
}
