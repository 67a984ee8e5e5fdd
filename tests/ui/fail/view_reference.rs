use std::borrow::Cow;

#[derive(tars_rpc::TarsStruct)]
struct View<'a> {
    #[tars(tag = 0)]
    ok: &'a str,
    #[tars(tag = 1)]
    name: &'a String,
    #[tars(tag = 2)]
    list: Vec<&'a [i32]>,
    #[tars(tag = 3)]
    cow: Cow<'a, [i32]>,
}

#[derive(tars_rpc::TarsStruct)]
struct Mutable<'a> {
    #[tars(tag = 0)]
    text: &'a mut str,
}

#[derive(tars_rpc::TarsStruct)]
struct OwnedCow {
    #[tars(tag = 0)]
    text: Cow<'static, str>,
}

fn main() {}
