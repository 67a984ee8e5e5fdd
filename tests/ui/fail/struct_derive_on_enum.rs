#[derive(tars_rpc::TarsStruct)]
enum Color {
    Red,
}

fn main() {}
