//! Views of a find (MS-OXWSSRCH): which page of the matching entries is returned
//! (`IndexedPage…View`, `FractionalPage…View`), in what order (`SortOrder`), and the paging
//! attributes of the response's `RootFolder`. Shared by FindFolder and FindItem; never reads the
//! store except to resolve sort keys.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::parse_path;
use crate::restriction::{sort_order, Column, Purpose, Refusal, Row, Target};
use crate::{child, Request};
use umbox_store::props::PropValue;
use umbox_xml::{ns, Element, Writer};

/// The element names of the two paged views of one operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewNames {
    /// `IndexedPageItemView` or `IndexedPageFolderView`.
    pub(crate) indexed: &'static str,
    /// `FractionalPageItemView` or `FractionalPageFolderView`.
    pub(crate) fractional: &'static str,
}

/// FindItem's views.
pub(crate) const ITEM_VIEWS: ViewNames = ViewNames {
    indexed: "IndexedPageItemView",
    fractional: "FractionalPageItemView",
};
/// FindFolder's views.
pub(crate) const FOLDER_VIEWS: ViewNames = ViewNames {
    indexed: "IndexedPageFolderView",
    fractional: "FractionalPageFolderView",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// No view: every entry.
    All,
    /// `Offset` entries from the beginning or the end.
    Indexed { offset: usize, from_end: bool },
    /// The entry at `numerator / denominator` of the way through.
    Fractional {
        numerator: usize,
        denominator: usize,
    },
}

/// A page of a find: its window, its size, and the find count limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    window: Window,
    max: Option<usize>,
    limit: usize,
}

impl Page {
    /// Reads the paged view of `op`, if any. Malformed numbers are schema faults; values out of
    /// range are reported per folder by [`Page::check`].
    pub(crate) fn parse(op: &Element, names: ViewNames, limit: usize) -> Result<Page, Fault> {
        let indexed = child(op, names.indexed);
        let fractional = child(op, names.fractional);
        let (view, window) = match (indexed, fractional) {
            (None, None) => {
                return Ok(Page {
                    window: Window::All,
                    max: None,
                    limit,
                })
            }
            (Some(view), None) => {
                let from_end = match view.attribute("", "BasePoint") {
                    Some("Beginning") => false,
                    Some("End") => true,
                    other => {
                        return Err(Fault::schema(format!(
                            "BasePoint {other:?} must be Beginning or End"
                        )))
                    }
                };
                (
                    view,
                    Window::Indexed {
                        offset: number(view, "Offset")?.unwrap_or(0),
                        from_end,
                    },
                )
            }
            (None, Some(view)) => {
                let numerator = number(view, "Numerator")?.ok_or_else(|| {
                    Fault::schema(format!("{} needs Numerator", names.fractional))
                })?;
                let denominator = number(view, "Denominator")?.ok_or_else(|| {
                    Fault::schema(format!("{} needs Denominator", names.fractional))
                })?;
                (
                    view,
                    Window::Fractional {
                        numerator,
                        denominator,
                    },
                )
            }
            (Some(_), Some(_)) => {
                return Err(Fault::schema(format!(
                    "{} holds more than one view",
                    op.name()
                )))
            }
        };
        Ok(Page {
            window,
            max: number(view, "MaxEntriesReturned")?,
            limit,
        })
    }

    /// Refuses paging values out of range, and pages larger than the find count limit
    /// (ErrorExceededFindCountLimit).
    pub(crate) fn check(&self, total: usize) -> Result<(), Error> {
        if self.max == Some(0) {
            return Err(Error::new(
                ResponseCode::ErrorInvalidIndexedPagingParameters,
                "MaxEntriesReturned must be at least 1",
            ));
        }
        if let Window::Fractional {
            numerator,
            denominator,
        } = self.window
        {
            if denominator == 0 || numerator > denominator {
                return Err(Error::new(
                    ResponseCode::ErrorInvalidFractionalPagingParameters,
                    format!("Numerator {numerator} and Denominator {denominator} do not make a fraction of at most 1"),
                ));
            }
        }
        let (start, end) = self.window(total);
        if end - start > self.limit {
            return Err(Error::new(
                ResponseCode::ErrorExceededFindCountLimit,
                format!(
                    "the view would return more than {} entries; ask for a smaller page",
                    self.limit
                ),
            ));
        }
        Ok(())
    }

    /// The half-open range of entries in this page.
    pub(crate) fn window(&self, total: usize) -> (usize, usize) {
        let count = self.max.unwrap_or(total);
        match self.window {
            Window::All => (0, total),
            Window::Indexed {
                offset,
                from_end: false,
            } => {
                let start = offset.min(total);
                (start, start.saturating_add(count).min(total))
            }
            Window::Indexed {
                offset,
                from_end: true,
            } => {
                let end = total.saturating_sub(offset);
                (end.saturating_sub(count), end)
            }
            Window::Fractional {
                numerator,
                denominator,
            } => {
                let start = total
                    .saturating_mul(numerator)
                    .checked_div(denominator)
                    .unwrap_or(0)
                    .min(total);
                (start, start.saturating_add(count).min(total))
            }
        }
    }

    /// Writes the paging attributes of the `RootFolder` element just started, for `total`
    /// matching entries: IndexedPagingOffset, or NumeratorOffset and AbsoluteDenominator, then
    /// TotalItemsInView and IncludesLastItemInRange.
    pub(crate) fn root_attributes(&self, w: &mut Writer<'_>, total: usize) {
        let (start, end) = self.window(total);
        match self.window {
            Window::Fractional { .. } => {
                w.attribute("NumeratorOffset", &end.to_string())
                    .attribute("AbsoluteDenominator", &total.to_string());
            }
            // Counted from the end, the next page starts that many entries before the end.
            Window::Indexed { from_end: true, .. } => {
                w.attribute("IndexedPagingOffset", &(total - start).to_string());
            }
            Window::All
            | Window::Indexed {
                from_end: false, ..
            } => {
                w.attribute("IndexedPagingOffset", &end.to_string());
            }
        }
        let last = match self.window {
            Window::Indexed { from_end: true, .. } => start == 0,
            _ => end >= total,
        };
        w.attribute("TotalItemsInView", &total.to_string())
            .attribute(
                "IncludesLastItemInRange",
                if last { "true" } else { "false" },
            );
    }
}

fn number(view: &Element, name: &str) -> Result<Option<usize>, Fault> {
    view.attribute("", name)
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| Fault::schema(format!("{name} {v:?} is not a number")))
        })
        .transpose()
}

/// A parsed `m:SortOrder`: keys in priority order, each ascending or descending.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SortOrder {
    keys: Vec<(Column, bool)>,
}

impl SortOrder {
    /// Reads `m:SortOrder` of `op`, if any. Unsortable paths are ErrorUnsupportedPathForSortGroup.
    pub(crate) fn parse(
        request: &Request<'_>,
        op: &Element,
        target: Target,
    ) -> Result<SortOrder, Refusal> {
        let Some(order) = child(op, "SortOrder") else {
            return Ok(SortOrder::default());
        };
        let mut keys = Vec::new();
        for field in order.children() {
            if !field.is(ns::EWS_TYPES, "FieldOrder") {
                return Err(Fault::schema(format!(
                    "unexpected element {} in SortOrder",
                    field.name()
                ))
                .into());
            }
            let descending = match field.attribute("", "Order") {
                Some("Ascending") => false,
                Some("Descending") => true,
                other => {
                    return Err(Fault::schema(format!(
                        "Order {other:?} must be Ascending or Descending"
                    ))
                    .into())
                }
            };
            let mut paths = field.children();
            let (Some(path), None) = (paths.next(), paths.next()) else {
                return Err(Fault::schema("FieldOrder holds exactly one property path").into());
            };
            let path = parse_path(path)?;
            keys.push((
                Column::resolve(request, &path, target, Purpose::Sort)?,
                descending,
            ));
        }
        if keys.is_empty() {
            return Err(Fault::schema("SortOrder needs a FieldOrder").into());
        }
        Ok(SortOrder { keys })
    }

    /// The keys in priority order, each with whether it is descending.
    pub(crate) fn keys(&self) -> &[(Column, bool)] {
        &self.keys
    }

    /// The values `row` sorts by, one per key, so rows can be sorted without being held.
    pub(crate) fn values(&self, row: Row<'_>) -> Vec<Option<PropValue>> {
        self.keys
            .iter()
            .map(|(column, _)| column.value(row).map(Cow::into_owned))
            .collect()
    }

    /// Sorts `rows` stably by their [`SortOrder::values`]; equal entries keep their order.
    pub(crate) fn sort_by_values<T>(
        &self,
        rows: &mut [T],
        values: impl Fn(&T) -> &[Option<PropValue>],
    ) {
        if self.keys.is_empty() {
            return;
        }
        rows.sort_by(|a, b| {
            let pairs = values(a).iter().zip(values(b));
            for ((_, descending), (a, b)) in self.keys.iter().zip(pairs) {
                let ordering = sort_order(a.as_ref(), b.as_ref());
                let ordering = if *descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(window: Window, max: Option<usize>) -> Page {
        Page {
            window,
            max,
            limit: 1000,
        }
    }

    #[test]
    fn windows_from_either_end_and_by_fraction() {
        let beginning = |offset| Window::Indexed {
            offset,
            from_end: false,
        };
        let end = |offset| Window::Indexed {
            offset,
            from_end: true,
        };
        assert_eq!(page(beginning(0), Some(10)).window(25), (0, 10));
        assert_eq!(page(beginning(20), Some(10)).window(25), (20, 25));
        assert_eq!(page(beginning(40), Some(10)).window(25), (25, 25));
        assert_eq!(page(end(0), Some(10)).window(25), (15, 25));
        assert_eq!(page(end(20), Some(10)).window(25), (0, 5));
        let half = Window::Fractional {
            numerator: 1,
            denominator: 2,
        };
        assert_eq!(page(half, Some(10)).window(25), (12, 22));
        assert_eq!(page(half, None).window(25), (12, 25));
        assert_eq!(page(Window::All, None).window(25), (0, 25));
    }

    #[test]
    fn checks_limits_and_ranges() {
        let all = Page {
            window: Window::All,
            max: None,
            limit: 3,
        };
        assert!(all.check(3).is_ok());
        assert_eq!(
            all.check(4).unwrap_err().response_code(),
            ResponseCode::ErrorExceededFindCountLimit
        );
        let bad = page(
            Window::Fractional {
                numerator: 3,
                denominator: 2,
            },
            Some(1),
        );
        assert_eq!(
            bad.check(4).unwrap_err().response_code(),
            ResponseCode::ErrorInvalidFractionalPagingParameters
        );
        let zero = page(
            Window::Fractional {
                numerator: 0,
                denominator: 0,
            },
            Some(1),
        );
        assert_eq!(
            zero.check(4).unwrap_err().response_code(),
            ResponseCode::ErrorInvalidFractionalPagingParameters
        );
        let empty = page(
            Window::Indexed {
                offset: 0,
                from_end: false,
            },
            Some(0),
        );
        assert_eq!(
            empty.check(4).unwrap_err().response_code(),
            ResponseCode::ErrorInvalidIndexedPagingParameters
        );
    }
}
