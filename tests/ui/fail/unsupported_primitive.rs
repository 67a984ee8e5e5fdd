#[derive(tars_rpc::TarsStruct)]
struct Counter {
    #[tars(tag = 0)]
    hits: u64,
    #[tars(tag = 1)]
    initial: char,
}

fn main() {}
