//! temp
pub struct Request<'a> {
    pub body: &'a [u8],
    pub caller: &'a crate::directory::User,
    pub directory: &'a crate::directory::Directory,
    pub site: &'a crate::config::Site,
    pub now: std::time::SystemTime,
}
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}
pub fn pox(_r: &Request<'_>) -> Reply {
    Reply {
        status: 200,
        content_type: "text/xml",
        body: vec![],
    }
}
pub fn soap(_r: &Request<'_>) -> Reply {
    Reply {
        status: 200,
        content_type: "text/xml",
        body: vec![],
    }
}
