const BASE: isize = 10;

#[derive(tars_rpc::TarsEnum)]
enum Level {
    Low = BASE,
    High,
}

fn main() {}
