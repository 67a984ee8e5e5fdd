struct Plain {
    value: i32,
}

#[derive(tars_rpc::TarsStruct)]
struct Holder {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    plain: Plain,
}

fn main() {}
