//! The checked-in tiny model folders of `tests/fixtures/` (written by Sentence Transformers and model2vec
//! themselves, with the vectors those libraries produce), read with the core's own file validation and
//! encoded by the core: the same fixtures the Python light tier reads.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use staticemb_core::{
    read_model_weights, Kernel, Layout, PoolOptions, Table, TextEncoder, Threads,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn le_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn ints(b: &[u8], dtype: &str) -> Vec<i64> {
    match dtype {
        "I32" => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
            .collect(),
        "I64" => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        other => panic!("mapping dtype {other}"),
    }
}

fn check_folder(name: &str) {
    let root = fixtures();
    let folder = root.join(name);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let normalize = manifest["folders"][name]["normalize"].as_bool().unwrap();
    let texts: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(root.join("texts.json")).unwrap()).unwrap();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();

    let file = std::fs::read(folder.join("model.safetensors")).unwrap();
    let w = read_model_weights(&file).unwrap();
    let bytes = |t: &staticemb_core::TensorSlice| &file[t.start..t.end];
    let mapping = w.mapping.as_ref().map(|m| ints(bytes(m), m.dtype));
    let weights = w.weights.as_ref().map(|t| le_f32(bytes(t)));
    let json = std::fs::read_to_string(folder.join("tokenizer.json")).unwrap();
    let enc = TextEncoder::new(
        &json,
        mapping.as_deref(),
        weights.as_deref(),
        w.layout == Layout::Model2Vec,
    )
    .unwrap();

    let (rows, width) = (w.table.shape[0], w.table.shape[1]);
    let raw = bytes(&w.table);
    let (f32s, f16s, i8s, ones);
    let table = match w.table.dtype {
        "F32" => {
            f32s = le_f32(raw);
            Table::new(&f32s, rows, width)
        }
        "F16" => {
            f16s = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>();
            Table::f16(&f16s, rows, width)
        }
        "I8" => {
            i8s = raw.iter().map(|&b| b as i8).collect::<Vec<_>>();
            ones = vec![1.0f32; rows];
            Table::i8(&i8s, &ones, rows, width)
        }
        other => panic!("table dtype {other}"),
    }
    .unwrap();
    let opts = PoolOptions {
        dim: width,
        normalize,
        threads: Threads::Current,
        kernel: Kernel::detect(),
    };
    let mut out = vec![0f32; texts.len() * width];
    enc.encode(&texts, &table, &opts, &mut out).unwrap();

    let expected_file = std::fs::read(folder.join("expected.safetensors")).unwrap();
    let expected = SafeTensors::deserialize(&expected_file).unwrap();
    let expected = le_f32(expected.tensor("embeddings").unwrap().data());
    assert_eq!(expected.len(), out.len(), "{name}");
    // model2vec returns float16 vectors for a float16 table (rounded twice): within 3 * 2^-11 relative.
    let rel = if w.table.dtype == "F16" {
        3.0 / 2048.0
    } else {
        1e-6
    };
    for (i, (got, want)) in out.chunks(width).zip(expected.chunks(width)).enumerate() {
        for (g, e) in got.iter().zip(want) {
            assert!(
                (g - e).abs() <= 1e-6 + rel * e.abs(),
                "{name}: text {i} {:?}: {got:?} != {want:?}",
                texts[i]
            );
        }
    }
}

#[test]
fn sentence_transformers_fixture() {
    check_folder("st-tiny");
}

#[test]
fn model2vec_float32_fixture_with_mapping_and_weights() {
    check_folder("m2v-f32");
}

#[test]
fn model2vec_float16_fixture() {
    check_folder("m2v-f16");
}

#[test]
fn model2vec_int8_fixture_with_mapping_and_weights() {
    check_folder("m2v-int8");
}
