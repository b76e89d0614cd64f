//! Brotli and gzip copies of the site's files, made once at build time so
//! the server sends them without compressing per request.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;

/// Writes `file.br` and `file.gz` beside every file under `dir`, each only
/// where it is smaller than the file itself (the server then sends the
/// plain file). Brotli at its best quality (11, 4 MiB window) and gzip
/// made by zopfli (15 iterations), which writes ordinary gzip 4-5% smaller
/// than zlib's best level (the main WASM module: 305 798 bytes at level 9,
/// 291 523 with zopfli, in about 4 s): slow to make, and made once.
pub fn precompress(dir: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    // Largest first over both cores: the main WASM module takes longest.
    files.sort_by_key(|(_, len)| std::cmp::Reverse(*len));
    let workers = thread::available_parallelism().map_or(2, |n| n.get());
    let queue = std::sync::Mutex::new(files.into_iter());
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| loop {
                    let next = queue.lock().expect("no panics hold it").next();
                    let Some((file, _)) = next else {
                        return Ok(());
                    };
                    compress_file(&file)
                        .map_err(|e| format!("compressing {}: {e}", file.display()))?;
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a compression thread panicked"))
    })
}

fn collect(dir: &Path, files: &mut Vec<(PathBuf, u64)>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            collect(&path, files)?;
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")) {
            files.push((path, meta.len()));
        }
    }
    Ok(())
}

fn compress_file(file: &Path) -> std::io::Result<()> {
    let plain = fs::read(file)?;
    let mut brotli = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 64 * 1024, 11, 22);
        writer.write_all(&plain)?;
    }
    keep_if_smaller(file, "br", &plain, &brotli)?;
    let mut gzip = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        &plain[..],
        &mut gzip,
    )?;
    keep_if_smaller(file, "gz", &plain, &gzip)
}

fn keep_if_smaller(
    file: &Path,
    extension: &str,
    plain: &[u8],
    packed: &[u8],
) -> std::io::Result<()> {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    if packed.len() < plain.len() {
        fs::write(name, packed)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_copies_that_decompress_to_the_file_and_skips_incompressible_ones() {
        let dir = std::env::temp_dir().join(format!("xtask-compress-{}", std::process::id()));
        fs::create_dir_all(dir.join("pkg")).unwrap();
        let text = "the same words again and again ".repeat(200);
        fs::write(dir.join("pkg/app.js"), &text).unwrap();
        fs::write(dir.join("tiny.txt"), "x").unwrap();
        precompress(&dir).unwrap();

        let mut unpacked = String::new();
        brotli::Decompressor::new(&fs::read(dir.join("pkg/app.js.br")).unwrap()[..], 4096)
            .read_to_string(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, text);
        unpacked.clear();
        flate2::read::GzDecoder::new(&fs::read(dir.join("pkg/app.js.gz")).unwrap()[..])
            .read_to_string(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, text);
        // One byte does not compress: no copies, the file goes out as is.
        assert!(!dir.join("tiny.txt.br").exists());
        assert!(!dir.join("tiny.txt.gz").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
