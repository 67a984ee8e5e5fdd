// The facade crate reached through another path, as when it is re-exported.
mod reexport {
    pub use tars_rpc as tars;
}

#[derive(reexport::tars::TarsStruct)]
#[tars(crate = "reexport::tars")]
struct Point {
    #[tars(tag = 0)]
    x: i32,
}

fn main() {
    use reexport::tars::TarsStruct as _;
    assert_eq!(&Point { x: 1 }.to_bytes()[..], &[0x00, 0x01]);
}
