// Input of the expansion snapshot `user_view.expanded.rs`: a borrowed view of `User`.
#[derive(TarsStruct)]
pub struct UserRef<'a> {
    #[tars(tag = 1)]
    name: &'a str,
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 2, optional)]
    tags: Vec<&'a str>,
    #[tars(tag = 3, default = "nobody")]
    nickname: &'a str,
    #[tars(tag = 4)]
    avatar: Option<&'a [u8]>,
}
