#[derive(tars_rpc::TarsEnum)]
struct Level(i32);

fn main() {}
