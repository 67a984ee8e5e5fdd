#[derive(tars_rpc::TarsStruct)]
#[tars(name = "Demo.User")]
struct UserRef<'a> {
    #[tars(tag = 0, name = "sName")]
    name: &'a str,
}

fn main() {}
