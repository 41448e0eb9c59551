//! Prints the index of each file given: `cargo run --example index -- take.mov`.

fn main() {
    for path in std::env::args().skip(1) {
        let started = std::time::Instant::now();
        let result = moocpipe_container::FileSource::open(std::path::Path::new(&path))
            .map_err(moocpipe_container::IndexError::from)
            .and_then(|source| {
                let index = moocpipe_container::read(&source)?;
                Ok((index, source.bytes_read()))
            });
        match result {
            Ok((index, read)) => {
                println!("{path}: {} bytes read in {:?}", read, started.elapsed());
                println!("{index:#?}");
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}
