use std::collections::HashMap;

#[derive(tars_rpc::TarsStruct)]
struct Sparse {
    #[tars(tag = 0)]
    values: Vec<Option<i32>>,
    #[tars(tag = 1)]
    nested: HashMap<String, Vec<u64>>,
}

fn main() {}
