#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tga = 0)]
    id: i32,
}

#[derive(tars_rpc::TarsStruct)]
#[tars(rename = "U")]
struct Other {
    #[tars(tag = 0)]
    id: i32,
}

fn main() {}
