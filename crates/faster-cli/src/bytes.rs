//! Opening stores whose types this program cannot name: each side of a store is read as the
//! byte codec of its shape (`[u8]` for a variable size, `[u8; N]` for a fixed size `N`; see
//! `FasterKvBuilder::byte_codecs`), and a job generic over the two codecs runs with the pair
//! the manifest's codecs call for. Only a few shapes are handled, so that only a few copies
//! of the store's code are compiled. Byte values with an expiry (`Expiring<[u8]>`, what
//! `faster serve` stores) open as themselves, so the live-record scan skips expired records.

use std::path::Path;

use faster_kv::manifest::{Manifest, StoredCodec};
use faster_kv::{Codec, Expiring, FasterKv, FasterKvConfig};

/// Work to do on a store opened with byte codecs `K` and `V`.
pub(crate) trait ByteJob {
    /// What the job returns.
    type Output;

    /// Runs the job with the byte codecs of the store's shapes.
    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output;
}

/// The fixed sizes handled: 4, 8 and 16 bytes (and variable sizes).
const SIZES: &str = "variable sizes and fixed sizes of 4, 8 or 16 bytes";

/// Runs `job` with the byte codecs for `key` and `value`; an error naming the codec for a
/// fixed size that is not handled.
pub(crate) fn dispatch<J: ByteJob>(
    key: &StoredCodec,
    value: &StoredCodec,
    job: J,
) -> Result<J::Output, String> {
    check("key", key)?;
    check("value", value)?;
    // Byte values with an expiry (what `faster serve` stores) open as themselves, so that
    // the scan skips expired records as the server's reads do.
    let expiring = *value == StoredCodec::of::<Expiring<[u8]>>();
    macro_rules! with_value {
        ($k:ty) => {
            match value.fixed_size {
                None if expiring => job.run::<$k, Expiring<[u8]>>(),
                None => job.run::<$k, [u8]>(),
                Some(4) => job.run::<$k, [u8; 4]>(),
                Some(8) => job.run::<$k, [u8; 8]>(),
                Some(16) => job.run::<$k, [u8; 16]>(),
                Some(_) => return Err(unsupported("value", value)),
            }
        };
    }
    Ok(match key.fixed_size {
        None => with_value!([u8]),
        Some(4) => with_value!([u8; 4]),
        Some(8) => with_value!([u8; 8]),
        Some(16) => with_value!([u8; 16]),
        Some(_) => return Err(unsupported("key", key)),
    })
}

/// The manifest of the store in `dir`; an error for a directory that holds none.
pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    if !dir.is_dir() {
        return Err(format!("{}: no such directory", dir.display()));
    }
    match Manifest::read(dir) {
        Ok(Some(manifest)) => Ok(manifest),
        Ok(None) => Err(format!(
            "{} holds no store: it has no MANIFEST",
            dir.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Opens the store in `dir` with byte codecs `K` and `V`, recovering its newest checkpoint;
/// never creates a store, and refuses one with nothing to recover (opening it would start it
/// empty and delete its log).
pub(crate) fn open_bytes<K: Codec + ?Sized, V: Codec + ?Sized>(
    dir: &Path,
) -> Result<FasterKv<K, V>, String> {
    open_bytes_with(dir, &FasterKvConfig::default())
}

/// [`open_bytes`] with the settings of a settings file (its `dir` is `dir`, whatever the file
/// says).
pub(crate) fn open_bytes_with<K: Codec + ?Sized, V: Codec + ?Sized>(
    dir: &Path,
    config: &FasterKvConfig,
) -> Result<FasterKv<K, V>, String> {
    config
        .apply(FasterKv::builder())
        .dir(dir)
        .byte_codecs(true)
        .recover::<K, V>(None)
        .map(|(store, _)| store)
        .map_err(|e| format!("opening {}: {e}", dir.display()))
}

fn check(role: &str, codec: &StoredCodec) -> Result<(), String> {
    match codec.fixed_size {
        None | Some(4 | 8 | 16) => Ok(()),
        Some(_) => Err(unsupported(role, codec)),
    }
}

fn unsupported(role: &str, codec: &StoredCodec) -> String {
    format!(
        "the store's {role} codec is {codec}: this command reads {SIZES}; \
         dump the store from a program that names its types, with faster_kv::dump::dump"
    )
}

#[cfg(test)]
mod tests {
    use super::{ByteJob, dispatch};
    use faster_kv::Codec;
    use faster_kv::manifest::StoredCodec;

    /// Reports the fixed sizes of the codecs it runs with.
    struct Sizes;

    impl ByteJob for Sizes {
        type Output = (Option<usize>, Option<usize>);

        fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
            (K::FIXED_SIZE, V::FIXED_SIZE)
        }
    }

    #[test]
    fn each_shape_runs_with_its_byte_codec_and_other_sizes_are_named() {
        let word = StoredCodec::of::<u64>();
        let text = StoredCodec::of::<str>();
        assert_eq!(dispatch(&word, &text, Sizes), Ok((Some(8), None)));
        let pair = StoredCodec::of::<[u64; 2]>();
        let small = StoredCodec::of::<u32>();
        assert_eq!(dispatch(&pair, &small, Sizes), Ok((Some(16), Some(4))));
        let odd = StoredCodec::of::<[u32; 3]>();
        let err = dispatch(&word, &odd, Sizes).unwrap_err();
        assert!(
            err.contains("value codec is [u32; 3] (pod, 12 bytes, align 4)"),
            "{err}"
        );
        assert!(err.contains("faster_kv::dump::dump"), "{err}");
    }

    /// Reports whether the value codec expires.
    struct Expires;

    impl ByteJob for Expires {
        type Output = bool;

        fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> bool {
            V::EXPIRES
        }
    }

    #[test]
    fn byte_values_with_an_expiry_open_as_themselves_and_others_as_bytes() {
        let key = StoredCodec::of::<[u8]>();
        let served = StoredCodec::of::<faster_kv::Expiring<[u8]>>();
        assert_eq!(dispatch(&key, &served, Expires), Ok(true));
        let text = StoredCodec::of::<faster_kv::Expiring<str>>();
        assert_eq!(dispatch(&key, &text, Expires), Ok(false));
        assert_eq!(dispatch(&key, &key, Expires), Ok(false));
    }
}
