//! The site: the browser bundle (WASM split into the main module and the
//! lazily loaded chunks of the prediction and users pages, wasm-bindgen's
//! script, the split loader and its manifest), the stylesheet and the
//! public folder, with content hashes in the bundle's file names and
//! precompressed copies.
//!
//! Steps, in cargo-leptos's order: compile the crate's library for
//! `wasm32-unknown-unknown` (feature `hydrate`, profile `wasm-release`);
//! split it (`wasm_split_cli_support`, the library cargo-leptos uses);
//! wasm-bindgen on the main module; wasm-opt on every module; minify the
//! script (esbuild) and the stylesheet (lightningcss); name files by their
//! content; precompress. Everything is made in a staging folder that
//! replaces the site once the server has been built too.
//!
//! Three files name each other: the main module imports the split loader,
//! the loader imports the script, the script imports the loader. They
//! cannot each carry a hash of their own final content, so they carry one
//! hash of all three (taken before the names are written in), which
//! changes whenever any of them does. The chunks, the manifest and the
//! stylesheet carry hashes of their own content, so an upgrade that leaves
//! a chunk alone leaves it in browsers' caches.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::naming::{
    content_hash, hashed_name, loader_name, rename_reference, replace_same_length,
    LOADER_PLACEHOLDER,
};
use crate::{cargo, minutes, run, run_prefixed, step, Error};

/// The bundle's base name (Cargo.toml's `output-name`, and the
/// `LEPTOS_OUTPUT_NAME` the server is compiled with).
const NAME: &str = "itemserve";
/// The library's file name as cargo writes it.
const LIB_FILE: &str = "itemserve.wasm";
/// The profile the WASM is compiled with (Cargo.toml).
const WASM_PROFILE: &str = "wasm-release";
/// `RUSTFLAGS` replaces `.cargo/config.toml`'s `build.rustflags`, so the
/// WASM build repeats its `--cfg erase_components` (server and browser must
/// agree on it, or hydration markers differ) and adds the relocations the
/// splitter reads. A panic aborts at once (`immediate-abort`, which
/// overrides the profile's `abort`): no panic messages, locations or
/// formatting machinery in the bundle. `-Zfmt-debug=none` compiles every
/// `{:?}` to nothing (the UI shows no `Debug` output; its messages are
/// `Display`) and `-Zlocation-detail=none` leaves out the source locations
/// `#[track_caller]` code records: together the main module went from
/// 336 238 to 328 576 bytes gzipped (-9), 256 784 to 250 779 brotli.
const WASM_RUSTFLAGS: [&str; 7] = [
    "--cfg",
    "erase_components",
    "-Clink-args=--emit-relocs",
    "-Zunstable-options",
    "-Cpanic=immediate-abort",
    "-Zfmt-debug=none",
    "-Zlocation-detail=none",
];
/// The standard library is compiled with the bundle (from the toolchain's
/// `rust-src` component, which `scripts/tools.sh` adds), for that panic
/// strategy and with its smaller-code variants (`optimize_for_size`).
/// The main module: 984.6 → 900.4 KB raw, 372.5 → 344.0 KB gzip, 282.9 →
/// 260.9 KB brotli. These are unstable options: the machines this builds on
/// have one stable toolchain, so the WASM build alone runs with
/// `RUSTC_BOOTSTRAP=1` (the server build does not).
const WASM_CARGO_UNSTABLE: [&str; 2] = [
    "-Zbuild-std=std,panic_abort",
    "-Zbuild-std-features=optimize_for_size",
];
/// wasm-opt's settings: smallest code (`-Oz`, optimised until it stops
/// shrinking), the WASM features Rust's wasm32 target emits, the knowledge
/// that the lowest kilobyte of memory is unused (Rust puts its stack there,
/// growing down from 1 MiB), and no producer or feature notes. The main
/// module came out at 281 238 bytes of brotli with these, 283 623 with
/// cargo-leptos's `-Oz` and the two features alone.
const WASM_OPT_ARGS: [&str; 7] = [
    "-Oz",
    "--converge",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--low-memory-unused",
    "--strip-producers",
    "--strip-target-features",
];
/// The programs the bundle is made with.
const TOOLS: [&str; 4] = ["wasm-bindgen", "wasm-opt", "esbuild", "lightningcss"];
/// Browsers the stylesheet is written for (browserslist).
const CSS_TARGETS: &str = "defaults";

/// Where everything goes.
pub struct Paths {
    root: PathBuf,
    /// The WASM build's own target folder, so it compiles while the server
    /// build holds `target/`.
    front_target: PathBuf,
    /// The site the server serves (`LEPTOS_SITE_ROOT`).
    pub site: PathBuf,
    /// The next site, assembled here and then moved to `site`.
    staging: PathBuf,
    /// Beside the release server binary, where it and Leptos look.
    pub hash_file: PathBuf,
    /// A hash of everything the site was made from, beside it (not in it:
    /// the server would serve it).
    inputs_file: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Paths {
        let target = root.join("target");
        Paths {
            root: root.to_path_buf(),
            front_target: target.join("front"),
            site: target.join("site"),
            staging: target.join("site.next"),
            hash_file: target.join("release").join("hash.txt"),
            inputs_file: target.join("site.inputs"),
        }
    }
}

/// The hashes the server needs to name the bundle's files in its pages
/// (`hash.txt`, the format Leptos reads).
pub struct Hashes {
    /// The main module, its script and the split loader share one.
    bundle: String,
    css: String,
    manifest: String,
}

impl Hashes {
    fn write(&self, path: &Path) -> Result<(), Error> {
        let Hashes {
            bundle,
            css,
            manifest,
        } = self;
        let text = format!(
            "js: {bundle}\nwasm: {bundle}\ncss: {css}\nmanifest: {manifest}\nsplit: {bundle}\n"
        );
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

/// The external tools the bundle needs, with how to get them. (Which
/// wasm-bindgen: `scripts/tools.sh` installs the version Cargo.lock pins,
/// and wasm-bindgen itself refuses a module made for another version,
/// naming both.)
pub fn check_tools() -> Result<(), Error> {
    for tool in TOOLS {
        if output(Command::new(tool).arg("--version")).is_none() {
            return Err(format!(
                "{tool} is not on PATH; `source scripts/tools.sh && ensure_site_tools` installs it"
            ));
        }
    }
    Ok(())
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What [`build`] made.
pub enum Site {
    /// A new site in the staging folder, with the hash of its inputs.
    Built(Hashes, String),
    /// The site in place was made from the same inputs: nothing to do.
    Unchanged,
}

/// Compiles the WASM and, unless the site in place was made from exactly
/// the same inputs, builds the site into the staging folder.
pub fn build(paths: &Paths) -> Result<Site, Error> {
    step("wasm: cargo build --lib --target wasm32-unknown-unknown --profile wasm-release (4 to 5 minutes on 2 cores from a cold cache)");
    let mut cargo = cargo(&paths.root);
    cargo
        .args([
            "build",
            "--package",
            "itemserve",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .args([
            "--profile",
            WASM_PROFILE,
            "--no-default-features",
            "--features",
            "hydrate",
        ])
        .args(WASM_CARGO_UNSTABLE)
        .arg("--target-dir")
        .arg(&paths.front_target)
        .env("CARGO_ENCODED_RUSTFLAGS", WASM_RUSTFLAGS.join("\x1f"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTFLAGS");
    run_prefixed(cargo, "wasm")?;

    let wasm_dir = paths
        .front_target
        .join("wasm32-unknown-unknown")
        .join(WASM_PROFILE);
    let compiled = wasm_dir.join(LIB_FILE);
    let inputs = inputs_hash(paths, &compiled)?;
    if made_from(paths, &inputs) {
        step("bundle: the site's inputs are unchanged since it was made; kept as it is");
        return Ok(Site::Unchanged);
    }

    let started = Instant::now();
    step("bundle: split, wasm-bindgen, wasm-opt, minify, hash, precompress");
    let staging = &paths.staging;
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(|e| format!("removing {}: {e}", staging.display()))?;
    }
    let pkg = staging.join("pkg");
    fs::create_dir_all(&pkg).map_err(|e| format!("creating {}: {e}", pkg.display()))?;

    let split_main = wasm_dir.join("itemserve_split.wasm");
    let prefetch = split(&compiled, &pkg, &split_main)?;

    // The main module through wasm-bindgen: `itemserve.js` and
    // `itemserve_bg.wasm`, which becomes `itemserve.wasm`.
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--keep-lld-exports",
            "--no-demangle",
        ])
        .args(["--out-name", NAME, "--out-dir"])
        .arg(&pkg)
        .arg(&split_main))?;
    if pkg.join("snippets").exists() {
        // Imported by the script under names that do not follow their
        // content, they could not be cached for good like the rest.
        return Err(
            "wasm-bindgen wrote JS snippets (pkg/snippets/, from a crate's `inline_js` or \
                    `module` import), which this build does not name by content yet"
                .into(),
        );
    }
    let main_wasm = pkg.join(format!("{NAME}.wasm"));
    rename(&pkg.join(format!("{NAME}_bg.wasm")), &main_wasm)?;

    // Every module optimised; the chunks named by their content.
    wasm_opt(&main_wasm)?;
    let mut chunk_names = BTreeMap::new();
    for stem in prefetch.values().flatten() {
        if chunk_names.contains_key(stem) {
            continue;
        }
        let file = pkg.join(format!("{stem}.wasm"));
        wasm_opt(&file)?;
        let hashed = hashed_name(stem, &content_hash(&[&read(&file)?]), "wasm");
        rename(&file, &pkg.join(&hashed))?;
        chunk_names.insert(stem.clone(), hashed);
    }

    // The loader fetches the chunks by name.
    let placeholder_loader = pkg.join(LOADER_PLACEHOLDER);
    let mut loader = read_text(&placeholder_loader)?;
    for (stem, hashed) in &chunk_names {
        rename_reference(&mut loader, &format!("{stem}.wasm"), hashed)
            .map_err(|missing| format!("the split loader does not fetch {missing}"))?;
    }
    fs::remove_file(&placeholder_loader)
        .map_err(|e| format!("removing the placeholder loader: {e}"))?;

    // The three files that name each other: one hash of all three.
    let script_file = pkg.join(format!("{NAME}.js"));
    minify_js(&script_file)?;
    let mut script = read_text(&script_file)?;
    let mut module = read(&main_wasm)?;
    let shared = content_hash(&[script.as_bytes(), &module, loader.as_bytes()]);
    let loader_file = loader_name(&shared);
    let script_name = hashed_name(NAME, &shared, "js");
    let renamed = replace_same_length(
        &mut module,
        LOADER_PLACEHOLDER.as_bytes(),
        loader_file.as_bytes(),
    ) + script.matches(LOADER_PLACEHOLDER).count();
    script = script.replace(LOADER_PLACEHOLDER, &loader_file);
    if renamed == 0 {
        return Err(format!(
            "neither the main module nor the script imports {LOADER_PLACEHOLDER}"
        ));
    }
    rename_reference(&mut loader, &format!("{NAME}.js"), &script_name)
        .map_err(|missing| format!("the split loader does not import {missing}"))?;
    write(&pkg.join(&script_name), script.as_bytes())?;
    write(&pkg.join(hashed_name(NAME, &shared, "wasm")), &module)?;
    fs::remove_file(&script_file)
        .map_err(|e| format!("removing {}: {e}", script_file.display()))?;
    fs::remove_file(&main_wasm).map_err(|e| format!("removing {}: {e}", main_wasm.display()))?;
    let loader_path = pkg.join(&loader_file);
    write(&loader_path, loader.as_bytes())?;
    minify_js(&loader_path)?;

    // Which chunks each lazy page needs, for the server's preload links
    // (`{ "split": ["chunk_3.<hash>", "split_x.<hash>"] }`, no extension).
    let manifest: BTreeMap<&String, Vec<&str>> = prefetch
        .iter()
        .map(|(split, stems)| {
            let files = stems
                .iter()
                .map(|stem| chunk_names[stem].trim_end_matches(".wasm"))
                .collect();
            (split, files)
        })
        .collect();
    let manifest = serde_json::to_vec_pretty(&manifest).expect("strings serialise");
    let manifest_hash = content_hash(&[&manifest]);
    write(
        &pkg.join(hashed_name("__wasm_split_manifest", &manifest_hash, "json")),
        &manifest,
    )?;

    let css_hash = stylesheet(&paths.root.join("style/main.css"), &pkg)?;
    copy_dir(&paths.root.join("public"), staging)?;
    crate::compress::precompress(staging)?;

    step(&format!("bundle: finished in {}", minutes(started)));
    let hashes = Hashes {
        bundle: shared,
        css: css_hash,
        manifest: manifest_hash,
    };
    Ok(Site::Built(hashes, inputs))
}

/// Whether the site in place (with its hash file) was made from `inputs`.
fn made_from(paths: &Paths, inputs: &str) -> bool {
    fs::read_to_string(&paths.inputs_file).is_ok_and(|made| made == inputs)
        && paths.site.is_dir()
        && paths.hash_file.is_file()
}

/// One hash of everything the site is made from: the compiled module, the
/// stylesheet, the public files, the versions of the tools and this build
/// program itself (its steps and their settings). A server-only change
/// leaves the compiled module as it was, and so the site.
fn inputs_hash(paths: &Paths, compiled: &Path) -> Result<String, Error> {
    let program =
        std::env::current_exe().map_err(|e| format!("finding this build program: {e}"))?;
    let mut parts = vec![read(&program)?, read(compiled)?];
    parts.push(read(&paths.root.join("style/main.css"))?);
    let mut public = Vec::new();
    list_files(&paths.root.join("public"), &mut public)?;
    public.sort();
    for file in public {
        parts.push(file.to_string_lossy().into_owned().into_bytes());
        parts.push(read(&file)?);
    }
    for tool in TOOLS {
        let version = output(Command::new(tool).arg("--version"))
            .ok_or_else(|| format!("{tool} --version failed"))?;
        parts.push(version.into_bytes());
    }
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(content_hash(&parts))
}

fn list_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    for entry in fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            list_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Puts the site built by [`build`] in place, and the hashes that name its
/// files beside the server binary. Done once everything else succeeded, so
/// a failed build leaves the previous site and hash file together.
pub fn publish(paths: &Paths, hashes: &Hashes, inputs: &str) -> Result<(), Error> {
    // Gone first: a build stopped half way is never taken for complete.
    if paths.inputs_file.exists() {
        fs::remove_file(&paths.inputs_file)
            .map_err(|e| format!("removing {}: {e}", paths.inputs_file.display()))?;
    }
    if paths.site.exists() {
        fs::remove_dir_all(&paths.site)
            .map_err(|e| format!("removing {}: {e}", paths.site.display()))?;
    }
    rename(&paths.staging, &paths.site)?;
    hashes.write(&paths.hash_file)?;
    write(&paths.inputs_file, inputs.as_bytes())
}

/// Splits the compiled module: the lazily loaded modules and the loader go
/// to `pkg`, the main module to `main_out`. Returns, for each split point,
/// the modules (file stems) it loads.
fn split(
    compiled: &Path,
    pkg: &Path,
    main_out: &Path,
) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let input = read(compiled)?;
    let mut options = wasm_split_cli_support::Options::new(&input);
    options.output_dir = pkg;
    options.main_out_path = main_out;
    let link_name = format!("./{LOADER_PLACEHOLDER}");
    options.link_name = &link_name;
    let main_module = format!("./{NAME}.js");
    options.main_module = &main_module;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|e| format!("splitting {}: {e:#}", compiled.display()))?;
    Ok(split.prefetch_map.into_iter().collect())
}

/// Optimises a module in place. wasm-opt warns about every name-section
/// entry it does not know (wasm-bindgen writes some); what it says is shown
/// only when it fails.
fn wasm_opt(file: &Path) -> Result<(), Error> {
    let mut command = Command::new("wasm-opt");
    command.args(WASM_OPT_ARGS).arg(file).arg("-o").arg(file);
    let out = command
        .output()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn minify_js(file: &Path) -> Result<(), Error> {
    let minified = file.with_extension("min.js");
    run(Command::new("esbuild")
        .arg(file)
        .args(["--minify", "--log-level=warning"])
        // wasm-bindgen lists the split loader once per import of it in one
        // object literal; the duplicates name the same module.
        .arg("--log-override:duplicate-object-key=silent")
        .arg(format!("--outfile={}", minified.display())))?;
    rename(&minified, file)
}

/// `style/main.css`, minified for the target browsers, as
/// `pkg/itemserve.<hash>.css`; returns the hash.
fn stylesheet(source: &Path, pkg: &Path) -> Result<String, Error> {
    let plain = pkg.join(format!("{NAME}.css"));
    run(Command::new("lightningcss")
        .args(["--minify", "--targets", CSS_TARGETS])
        .arg(source)
        .arg("-o")
        .arg(&plain))?;
    let hash = content_hash(&[&read(&plain)?]);
    rename(&plain, &pkg.join(hashed_name(NAME, &hash, "css")))?;
    Ok(hash)
}

/// Copies the public folder's files into the site, as they are.
fn copy_dir(from: &Path, to: &Path) -> Result<(), Error> {
    for entry in fs::read_dir(from).map_err(|e| format!("reading {}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("reading {}: {e}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            fs::create_dir_all(&target)
                .map_err(|e| format!("creating {}: {e}", target.display()))?;
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .map_err(|e| format!("copying {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn rename(from: &Path, to: &Path) -> Result<(), Error> {
    fs::rename(from, to).map_err(|e| format!("moving {} to {}: {e}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes() -> Hashes {
        Hashes {
            bundle: "b".repeat(22),
            css: "c".repeat(22),
            manifest: "m".repeat(22),
        }
    }

    #[test]
    fn a_site_is_kept_only_when_made_from_the_same_inputs_and_complete() {
        let root = std::env::temp_dir().join(format!("xtask-site-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let paths = Paths::new(&root);
        assert!(!made_from(&paths, "one"), "nothing built yet");

        fs::create_dir_all(paths.staging.join("pkg")).unwrap();
        publish(&paths, &hashes(), "one").unwrap();
        assert!(made_from(&paths, "one"));
        assert!(!made_from(&paths, "two"), "other inputs");

        // The next publish removes the record first, so a build that stops
        // before finishing is not taken for one made from either input.
        fs::create_dir_all(&paths.staging).unwrap();
        fs::remove_file(&paths.hash_file).unwrap();
        assert!(!made_from(&paths, "one"), "no hash file");
        publish(&paths, &hashes(), "two").unwrap();
        assert!(made_from(&paths, "two") && !made_from(&paths, "one"));

        fs::remove_dir_all(&paths.site).unwrap();
        assert!(!made_from(&paths, "two"), "no site");
        fs::remove_dir_all(&root).unwrap();
    }
}
