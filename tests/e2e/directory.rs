//! The directory source: files renamed into a directory are each read once.

use crate::support::*;

#[test]
fn directory_source_reads_each_renamed_in_file_once() {
    let dir = TempDir::new("directory");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir(&incoming).unwrap();
    let pipeline = dir.write(
        "directory.toml",
        &word_count(
            "batch_interval = \"200ms\"\npartitions = 2",
            "[sources.files]\ntype = \"directory\"\npath = \"incoming\"",
            FILES_OUT,
        ),
    );
    let mut all = Vec::new();
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    sluice.wait_for_event("pipeline_started");
    for i in 0..5u64 {
        let lines = random_lines(20_000, 100 + i);
        let staged = dir.path().join(format!("part-{i}.txt"));
        std::fs::write(
            &staged,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        // A temporary name inside the watched directory is ignored until the rename.
        let hidden = incoming.join(format!(".part-{i}.txt.tmp"));
        std::fs::rename(&staged, &hidden).unwrap();
        std::fs::rename(&hidden, incoming.join(format!("part-{i}.txt"))).unwrap();
        let path = incoming.join(format!("part-{i}.txt"));
        sluice.wait_for_event_where("file_picked_up", &|e| {
            e["path"] == path.display().to_string().as_str()
        });
        assert_eq!(
            sluice.wait_for_nonempty_batch(),
            20_000,
            "one batch holds the whole file"
        );
        all.extend(lines);
    }
    sluice.signal("INT");
    let done = sluice.finish();
    done.expect_code(0);
    assert_eq!(
        word_counts_from_files(&dir.path().join("out")),
        count_words(&all)
    );
}
