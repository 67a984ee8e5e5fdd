#[derive(tars_rpc::TarsEnum)]
enum Level {
    Low = 1,
    Middle = 0,
    High,
}

fn main() {}
